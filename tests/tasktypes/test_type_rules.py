"""The loader's rules of task_type, task_exec and task_options, the same for the API, the pages, the admin and
conf/tasks.json: the type must be installed, task_exec is required only by the types that run a file (and a
shell task's file must be executable), and each type checks its options, naming each one."""
import json

import pytest

from pathlib import Path

from django.conf import settings as django_settings
from tasks_app.conffile.mirror import mirror_tasks_file
from tasks_app.definition.loader import TaskLoader, TaskValidationError
from tasks_app.services.tasks import create_task

pytestmark = pytest.mark.django_db


def base(**fields):
    return {"task_id": "t", "task_name": "T", "task_schedule": "*/5 * * * *", **fields}


def errors_of(data) -> dict:
    with pytest.raises(TaskValidationError) as caught:
        TaskLoader().clean(data, existing={})
    return caught.value.errors


def test_a_python_task_is_the_default_and_needs_its_file(scripts_dir):
    cleaned = TaskLoader().clean(base(task_exec="hello.sh"), existing={})
    assert cleaned["task_type"] == "python" and cleaned["task_options"] == {}
    assert errors_of(base())["task_exec"] == ["task_exec is required for a task of type python: the path of its "
                                              "file inside the tasks folder."]


def test_a_shell_task_needs_an_executable_file_with_a_shebang(scripts_dir):
    assert TaskLoader().clean(base(task_type="shell", task_exec="hello.sh"), existing={})["task_type"] == "shell"
    assert errors_of(base(task_type="shell", task_exec="not_executable.sh"))["task_exec"] == [
        "task_exec \"not_executable.sh\" cannot run as a shell task: it is not executable (chmod +x it)."]
    assert "has no #! line" in errors_of(base(task_type="shell", task_exec="no_shebang.sh"))["task_exec"][0]
    assert "is required for a task of type shell" in errors_of(base(task_type="shell"))["task_exec"][0]


def test_an_http_task_takes_no_file_and_checks_its_options_one_by_one(scripts_dir, settings):
    cleaned = TaskLoader().clean(base(task_type="http", task_options={"url": "https://example.com/ping"}),
                                 existing={})
    assert cleaned["task_exec"] == ""
    assert cleaned["task_options"] == {"method": "GET", "url": "https://example.com/ping", "headers": {},
                                       "body": "", "expected_statuses": []}
    errors = errors_of(base(task_type="http", task_exec="hello.sh", task_options={
        "method": "BREW", "expected_statuses": [200, 999], "headers": {"Bad Name": "x"}, "colour": "blue"}))
    assert errors["task_exec"] == ["task_exec must be empty for a task of type http, which runs no file (got "
                                   "\"hello.sh\")."]
    assert sorted(errors["task_options"]) == sorted([
        "task_options.colour: unknown option 'colour' for task_type 'http' (it takes method, url, headers, body, "
        "expected_statuses)",
        "task_options.url: url is required for task_type 'http'",
        "task_options.method: method 'BREW' is not one of GET, POST, PUT, PATCH, DELETE, HEAD",
    ])
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = []
    errors = errors_of(base(task_type="http", task_options={"url": "http://127.0.0.1:8000/admin"}))
    assert errors["task_options"][0].startswith("task_options.url: url 'http://127.0.0.1:8000/admin' is refused: "
                                                "127.0.0.1: 127.0.0.1 is not a public address")
    errors = errors_of(base(task_type="http", task_options={"url": "https://x.example", "expected_statuses": [99],
                                                           "headers": {"X-A": "a\r\nb"}}))
    assert sorted(errors["task_options"]) == [
        "task_options.expected_statuses: expected_statuses: 99 is not an HTTP status (100 to 599)",
        "task_options.headers: headers: 'X-A' is not a valid header line"]


def test_an_unknown_type_and_options_that_are_not_an_object_are_named(scripts_dir):
    assert errors_of(base(task_type="cobol", task_exec="hello.sh"))["task_type"] == [
        "task_type \"cobol\" is not installed; installed: python, shell, http."]
    assert errors_of(base(task_exec="hello.sh", task_options=["x"]))["task_options"] == [
        "task_options must be a JSON object of the type's fields, got a list [\"x\"]."]


def test_conf_tasks_json_holds_the_type_and_its_options_only_when_they_are_not_the_default(scripts_dir):
    create_task(base(task_id="py", task_exec="hello.sh"), actor="t", via="cli")
    create_task(base(task_id="web", task_type="http", task_options={"url": "https://example.com/x"}),
                actor="t", via="cli")
    mirror_tasks_file()  # the services mirror after the commit, which a test's transaction never makes
    document = json.loads((Path(django_settings.CONF_DIR) / "tasks.json").read_text())
    by_id = {task["task_id"]: task for task in document["tasks"]}
    assert "task_type" not in by_id["py"] and "task_options" not in by_id["py"]
    assert by_id["web"]["task_type"] == "http" and by_id["web"]["task_options"]["url"] == "https://example.com/x"
    assert by_id["web"]["task_exec"] == ""


def test_the_api_lists_the_installed_types_and_makes_an_http_task(db, settings):
    from rest_framework.test import APIClient

    from tests.api.conftest import make_user
    from tasks_app.models import ApiKey

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiKey.issue(make_user('op', 'operator'))[1]}")
    types = {kind["name"]: kind for kind in client.get("/api/task-types").json()}
    assert list(types)[:3] == ["python", "shell", "http"]
    assert types["http"]["runs_file"] is False and types["http"]["performs"] is True
    assert [o["name"] for o in types["http"]["options"]] == ["method", "url", "headers", "body", "expected_statuses"]
    response = client.post("/api/tasks", base(task_id="api-http", task_type="http",
                                              task_options={"url": "https://example.com/x"}), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["task_type"] == "http" and response.json()["task_options"]["method"] == "GET"
    response = client.post("/api/tasks", base(task_id="api-bad", task_type="http",
                                              task_options={"url": "https://example.com/x", "method": 3}),
                           format="json")
    assert response.status_code == 400
    assert response.json()["task_options"] == ["task_options.method: method must be text, got 3"]


def test_a_task_types_setting_that_cannot_be_loaded_is_named_on_save_and_run(scripts_dir, settings,
                                                                             make_execution):
    from tasks_app.engine.runner import run_execution

    settings.TASK_TYPES = ["no_such_plugin.Type"]
    errors = errors_of(base(task_type="bash", task_exec="hello.sh"))
    assert errors["task_type"][0].startswith("TASK_TYPES (no_such_plugin.Type) cannot be loaded: ")
    result = run_execution(make_execution("shell", "hello.sh"))
    assert result.status == "failed" and "TASK_TYPES (no_such_plugin.Type) cannot be loaded" in result.error_message
