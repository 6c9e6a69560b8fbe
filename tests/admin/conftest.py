"""Fixtures for the admin and bootstrap tests: a private tasks folder and a logged-in superuser."""
import json
import logging

import pytest

from tasks_app.definition import fields as table

from tests.loader.conftest import tasks_dir  # noqa: F401  (a private tasks folder with the shipped script)


def form_data(**overrides):
    """The admin form as a browser posts it (the add page; the change page has no task_id)."""
    data = {
        "task_id": "nightly", "task_name": "Nightly report", "task_desc": "", "task_exec": "tasks/test_task.py",
        "task_schedule": "0 2 * * *", "task_enabled": "on", "task_timeout": "", "task_retry": "0",
        "task_retry_interval": "60", "task_timezone": "", "task_overlap": "skip", "task_misfire_grace": "60",
        "task_log": "", "task_env": "{}", "task_dependencies": "[]", "task_notify": "{}",
    }
    for field in table.FIELDS:  # any other field as the add page posts it at its default
        if field.name not in data:
            data[field.name] = posted_default(field)
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def posted_default(field):
    """What a browser posts for a field the add page shows at its default (None: nothing, an unticked box)."""
    if field.kind == table.BOOLEAN:
        return "on" if field.default else None
    if isinstance(field.default, (dict, list)):
        return json.dumps(field.default)
    return "" if field.default is None else str(field.default)


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
        return create_task(data, actor="setup", via="cli")

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
