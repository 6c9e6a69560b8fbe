"""Fixtures of the page tests: a user per role, logged-in clients, tasks made through the services."""
import copy
import logging
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

EXAMPLE = json.loads((Path(settings.BASE_DIR) / "conf" / "tasks.json").read_text(encoding="utf-8"))["tasks"][0]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Real hashing costs ~0.3 s per user; these tests are about pages, not password storage.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def web_log(caplog):
    """The "WebInterface" lines (that logger does not propagate to the root, so attach caplog to it)."""
    logger = logging.getLogger("WebInterface")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="WebInterface")
    yield caplog
    logger.removeHandler(caplog.handler)


def make_user(name, role=None, **extra):
    user = User.objects.create_user(name, password="pw-" + name, **extra)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])  # a flush between tests removes them
    return user


@pytest.fixture
def viewer(db):
    return make_user("vera", "viewer")


@pytest.fixture
def operator(db):
    return make_user("otto", "operator")


@pytest.fixture
def admin_user(db):
    return make_user("ada", "admin", is_staff=True)


@pytest.fixture
def nobody(db):
    return make_user("nora")


def client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def as_viewer(client, viewer):
    return client_for(client, viewer)


@pytest.fixture
def as_operator(client, operator):
    return client_for(client, operator)


@pytest.fixture
def as_admin(client, admin_user):
    return client_for(client, admin_user)


@pytest.fixture
def role_client(request, client, db):
    """Parametrize with indirect=True over "viewer", "operator", "admin"."""
    role = request.param
    user = make_user(f"user-{role}", role)
    return client_for(client, user)


def example(**changes):
    data = copy.deepcopy(EXAMPLE)
    data.update(changes)
    return data


@pytest.fixture
def make_task(db):
    from tasks_app.services.tasks import create_task

    def make(task_id="test-task", **changes):
        return create_task(example(task_id=task_id, task_log=f"logs/task_{task_id}.log", **changes),
                           actor="fixture", via="cli")
    return make


@pytest.fixture
def task(make_task):
    return make_task()


def form_data(**changes):
    """A valid POST of the task form, as a browser sends it."""
    data = {
        "task_id": "nightly",
        "task_name": "Nightly report",
        "task_desc": "Sends the report",
        "task_enabled": "on",
        "task_schedule": "30 2 * * *",
        "task_timezone": "",
        "task_exec": "tasks/test_task.py",
        "task_env-key": ["PARAM1", "DISPLAY_COLOR"],
        "task_env-value": ["值1", "blue"],
        "task_timeout": "300",
        "task_retry": "2",
        "task_retry_interval": "30",
        "task_overlap": "skip",
        "task_misfire_grace": "60",
        "task_log": "",
        "notify_on_failure": "on",
        "notify_email": "ops@example.com",
        "notify_webhook": "",
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data
