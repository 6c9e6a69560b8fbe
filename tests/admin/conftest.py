"""Fixtures for the admin and bootstrap tests: a private tasks folder and a logged-in superuser."""
import logging
import shutil
from pathlib import Path

import pytest
from django.conf import settings

SHIPPED_SCRIPT = Path(settings.BASE_DIR) / "tasks" / "test_task.py"


@pytest.fixture
def tasks_dir(settings, tmp_path):
    folder = tmp_path / "tasks"
    folder.mkdir()
    shutil.copy(SHIPPED_SCRIPT, folder / "test_task.py")
    settings.TASKS_DIR = folder
    return folder


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run after-commit work (the conf/tasks.json mirror) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def make_task(tasks_dir):
    from tasks_app.services.tasks import create_task

    def make(task_id, **fields):
        data = {"task_id": task_id, "task_name": f"Task {task_id}", "task_exec": "tasks/test_task.py",
                "task_schedule": "*/5 * * * *", **fields}
        return create_task(data, actor="setup", door="cli")

    return make


@pytest.fixture
def engine_log():
    """Lines written to the SchedulerEngine logger (it does not propagate to the root)."""
    lines = []

    class Collector(logging.Handler):
        def emit(self, record):
            lines.append(f"{record.levelname} - {record.name} - {record.getMessage()}")

    handler = Collector(logging.DEBUG)
    logging.getLogger("SchedulerEngine").addHandler(handler)
    yield lines
    logging.getLogger("SchedulerEngine").removeHandler(handler)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The default hasher costs most of a second per user on a busy machine; these tests are not about it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
