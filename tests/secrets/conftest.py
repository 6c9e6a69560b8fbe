"""Fixtures of the secrets tests: a private tasks folder with the shipped script, and a minimal task."""
from tests.loader.conftest import minimal, tasks_dir  # noqa: F401
