"""The end-to-end tests' fixtures: the browser and logged-in pages come from tests/browser.py (registered in
tests/conftest.py), the real scheduler process from the engine tests."""
from tests.engine.conftest import runscheduler  # noqa: F401  (the real `manage.py runscheduler`)
