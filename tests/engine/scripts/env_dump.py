"""Writes its whole environment, one KEY=value a line, to ENV_FILE."""
import os

with open(os.environ["ENV_FILE"], "w", encoding="utf-8") as f:
    for key, value in sorted(os.environ.items()):
        f.write(f"{key}={value}\n")
