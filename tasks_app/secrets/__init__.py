"""Secrets of task definitions: what a secret looks like stored and shown (values.py), the keys that encrypt it
(keys.py), and the masking of secret values in whatever a run writes (masking.py)."""
