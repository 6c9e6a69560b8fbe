"""API fixtures: a user and an API key per role, authenticated clients, the document's example task,
and a tiny urllib client for the tests that go over real HTTP to a live server."""
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from tasks_app.models import ApiKey

# The task of the design document's 配置文件格式 section, exactly as written there.
DOCUMENT_EXAMPLE_TASK = {
    "task_id": "test-task",
    "task_name": "测试任务",
    "task_desc": "用于测试任务调度引擎的功能",
    "task_exec": "tasks/test_task.py",
    "task_schedule": "*/3 * * * *",
    "task_timeout": 300,
    "task_retry": 3,
    "task_retry_interval": 60,
    "task_enabled": True,
    "task_log": "logs/task_test-task.log",
    "task_env": {
        "TASK_NAME": "测试任务",
        "TASK_DESCRIPTION": "用于测试任务调度引擎的功能",
        "PARAM1": "值1",
        "PARAM2": "值2",
        "PARAM3": "值3",
        "DISPLAY_COLOR": "blue",
        "DISPLAY_STYLE": "bold",
        "DISPLAY_BORDER": "double",
    },
    "task_dependencies": [],
    "task_notify": {"on_success": False, "on_failure": True, "email": "admin@example.com"},
}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Five users per test: the production hasher would make each test take seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def simple_task(task_id="simple", **fields):
    return {"task_id": task_id, "task_name": f"Task {task_id}", "task_exec": "tasks/test_task.py",
            "task_schedule": "*/5 * * * *", **fields}


def make_user(name, role=None, superuser=False):
    user = User.objects.create_user(name, password="pw-" + name, is_superuser=superuser, is_staff=superuser)
    if role:
        # get_or_create: a transactional test before this one flushed the groups the migration made.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def keys(db):
    """{role: plain API key} for viewer, operator, admin, a superuser and a user with no role."""
    out = {}
    for role in ("viewer", "operator", "admin"):
        out[role] = ApiKey.issue(make_user(f"{role}-user", role), name=f"{role} key")[1]
    out["superuser"] = ApiKey.issue(make_user("root", superuser=True), name="root key")[1]
    out["none"] = ApiKey.issue(make_user("nobody"), name="no role")[1]
    return out


@pytest.fixture
def client_as(keys):
    def make(role):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys[role]}")
        return client

    return make


@pytest.fixture
def admin_client(client_as):
    return client_as("admin")


@pytest.fixture
def operator_client(client_as):
    return client_as("operator")


@pytest.fixture
def viewer_client(client_as):
    return client_as("viewer")


@dataclass
class HttpAnswer:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(method, url, key=None, body=None, headers=None, timeout=10):
    """One real HTTP request; any status comes back as an answer, not an exception."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as err:
        return HttpAnswer(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())
