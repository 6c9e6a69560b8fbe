"""Run with parameters: POST /api/tasks/{id}/execute and a trigger URL take {"env": {...}}, one-off task_env
values recorded on the execution (a value that replaces a secret sealed and shown as a secret), by task_env's
name rules, and refused with an error under "env" when the task does not allow them."""
import pytest
from auditlog.models import LogEntry
from rest_framework.test import APIClient

from tasks_app.models import TaskExecution
from tasks_app.secrets import keys
from tasks_app.secrets.values import is_encrypted
from tasks_app.services import hooks as hook_services
from tasks_app.services.tasks import create_task

from .conftest import simple_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(db):
    return create_task(simple_task("job", task_allow_overrides=True,
                                   task_env={"DAY": "today", "DB_PASSWORD": {"secret": "old-s3cret"}}),
                       actor="t", via="cli")


def execute(client, task_id="job", **body):
    return client.post(f"/api/tasks/{task_id}/execute", body, format="json")


def test_a_run_records_its_one_off_values_and_seals_one_that_replaces_a_secret(operator_client, task):
    response = execute(operator_client, env={"DAY": "2024-01-31", "COUNT": 3, "DB_PASSWORD": "new-s3cret"})
    assert response.status_code == 202, response.json()
    execution = TaskExecution.objects.get(execution_id=response.json()["execution_id"])
    overrides = execution.env_overrides
    assert overrides["DAY"] == "2024-01-31" and overrides["COUNT"] == "3"
    assert is_encrypted(overrides["DB_PASSWORD"]) and keys.open_secret(overrides["DB_PASSWORD"]) == "new-s3cret"
    assert execution.run_env()["DAY"] == "2024-01-31"

    detail = operator_client.get(response.json()["url"]).json()
    assert detail["env_overrides"] == {"DAY": "2024-01-31", "COUNT": "3", "DB_PASSWORD": {"secret": True}}
    entry = LogEntry.objects.get(additional_data__event="run.requested")
    assert entry.additional_data["details"]["env"] == ["COUNT", "DAY", "DB_PASSWORD"]
    assert "new-s3cret" not in str(entry.additional_data) and "2024-01-31" not in str(entry.additional_data)


def test_a_value_given_as_a_secret_is_sealed(operator_client, task):
    response = execute(operator_client, env={"API_TOKEN": {"secret": "t0ken"}})
    assert response.status_code == 202
    stored = TaskExecution.objects.get().env_overrides["API_TOKEN"]
    assert is_encrypted(stored) and "t0ken" not in str(stored)


def test_a_task_that_does_not_allow_overrides_refuses_them_naming_the_field(operator_client, db):
    create_task(simple_task("fixed"), actor="t", via="cli")
    response = execute(operator_client, "fixed", env={"DAY": "2024-01-31"})
    assert response.status_code == 400
    assert response.json() == {"env": ["Task fixed does not allow parameters at run time (task_allow_overrides is "
                                       "false)."]}
    assert not TaskExecution.objects.exists()
    assert execute(operator_client, "fixed").status_code == 202  # without env it runs as always


@pytest.mark.parametrize("env, words", [
    ({"LD_PRELOAD": "/tmp/x.so"}, "env name \"LD_PRELOAD\" is refused"),
    ({"PATH": "/tmp"}, "env name \"PATH\" is refused"),
    ({"1BAD": "x"}, "env name \"1BAD\" is refused: it is not a valid environment variable name"),
    ({"DAY": ["a"]}, "must be text"),
    ({"DAY": "a\x00b"}, "must not contain a NUL character"),
    ("DAY=1", "env must be an object"),
])
def test_bad_values_are_refused_under_env(operator_client, task, env, words):
    response = execute(operator_client, env=env)
    assert response.status_code == 400, response.json()
    assert words in " ".join(response.json()["env"])
    assert not TaskExecution.objects.exists()


def test_a_body_with_other_fields_or_not_an_object_is_refused(operator_client, task):
    response = execute(operator_client, environment={"DAY": "x"})
    assert response.status_code == 400 and "environment" in response.json()
    response = operator_client.post("/api/tasks/job/execute", [1, 2], format="json")
    assert response.status_code == 400
    assert not TaskExecution.objects.exists()


def test_a_trigger_url_takes_the_same_body(task):
    hook, token = hook_services.create_hook(task, actor="t", via="cli")
    response = APIClient().post(f"/api/hooks/{token}", {"env": {"DAY": "from-ci"}}, format="json")
    assert response.status_code == 202
    assert TaskExecution.objects.get().env_overrides == {"DAY": "from-ci"}
    response = APIClient().post(f"/api/hooks/{token}", {"env": {"LD_PRELOAD": "x"}}, format="json")
    assert response.status_code == 400 and "LD_PRELOAD" in response.json()["env"][0]


def test_a_trigger_url_of_a_task_without_overrides_refuses_a_body_with_env(db):
    fixed = create_task(simple_task("fixed"), actor="t", via="cli")
    _hook, token = hook_services.create_hook(fixed, actor="t", via="cli")
    response = APIClient().post(f"/api/hooks/{token}", {"env": {"DAY": "x"}}, format="json")
    assert response.status_code == 400 and "task_allow_overrides is false" in response.json()["env"][0]
    assert APIClient().post(f"/api/hooks/{token}").status_code == 202


def test_task_allow_overrides_is_a_task_field_of_the_api(operator_client, db):
    response = operator_client.post("/api/tasks", simple_task("new"), format="json")
    assert response.json()["task_allow_overrides"] is False
    response = operator_client.patch("/api/tasks/new", {"task_allow_overrides": True}, format="json")
    assert response.status_code == 200 and response.json()["task_allow_overrides"] is True
