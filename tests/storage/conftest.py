"""Fixtures for the storage tests: the shipped example file and a way to run manage.py on the test database."""
import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "conf" / "tasks.json"


@pytest.fixture
def shipped_file():
    return SHIPPED


def child_database_url() -> str:
    """DATABASE_URL of the test database, so a child manage.py sees what the test wrote (transactional_db)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


@pytest.fixture
def manage_py():
    """Run `manage.py ARGS` in a child process on the test database and this test's folders."""

    def run(*args, timeout=60):
        env = dict(os.environ, DATABASE_URL=child_database_url(), CONF_DIR=str(settings.CONF_DIR),
                   LOGS_DIR=str(settings.LOGS_DIR), PYTHONIOENCODING="utf-8")
        return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, encoding="utf-8", timeout=timeout)

    return run


COMPONENTS = ("SchedulerEngine", "TaskLoader", "Scheduler", "TaskExecutor", "APIInterface", "WebInterface")


@pytest.fixture
def sys_log():
    """This test's logs/sys.log, written as settings.LOGGING writes the real one (logging is configured once
    per process, with the folder of the first test). Returns a function giving the file's lines."""
    from tasks_app.logs.setup import make_file_handler

    path = Path(settings.LOGS_DIR) / "sys.log"
    handler = make_file_handler(path)
    for name in COMPONENTS:
        logging.getLogger(name).addHandler(handler)
    yield lambda: path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for name in COMPONENTS:
        logging.getLogger(name).removeHandler(handler)
    handler.close()
