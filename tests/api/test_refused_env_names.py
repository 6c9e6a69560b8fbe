"""As an operator, every name of the task_env deny list is refused through the API with the key named, and nothing
is saved: the issue's three attack variables, each exact name, a sample of each prefix and suffix rule."""
import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from tasks_app.definition.envnames import sample_names
from tasks_app.models import ApiKey, Task

from .conftest import simple_task

pytestmark = pytest.mark.django_db

ISSUE_ATTACK = {"PYTHONWARNINGS": "all:0:antigravity.x:0:0", "BROWSER": "/bin/bash", "BASH_ENV": "$(id > /tmp/pwned)"}


@pytest.fixture
def operator_api():
    """One operator and its API key (the `keys` fixture makes five users, too many for hundreds of cases)."""
    user = User.objects.create_user("otto", password="pw-otto")
    user.groups.add(Group.objects.get_or_create(name="operator")[0])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiKey.issue(user, name='operator key')[1]}")
    return client


def refused_keys(response):
    assert response.status_code == 400, response.content
    return response.json()["task_env"]


def test_the_issues_three_variables_are_refused_each_by_name(operator_api):
    response = operator_api.post("/api/tasks", simple_task("pwn", task_env={**ISSUE_ATTACK, "PARAM1": "ok"}),
                                 format="json")
    messages = refused_keys(response)
    assert len(messages) == 3
    for name in ISSUE_ATTACK:
        assert any(f'task_env name "{name}" is refused' in m for m in messages), messages
    assert not any(value in " ".join(messages) for value in ISSUE_ATTACK.values())
    assert not Task.objects.exists()


@pytest.mark.parametrize("name", sample_names())
def test_each_name_of_the_deny_list_is_a_400_naming_the_key(operator_api, name):
    messages = refused_keys(operator_api.post("/api/tasks", simple_task("t", task_env={name: "x"}), format="json"))
    assert messages == [messages[0]] and f'task_env name "{name}" is refused: ' in messages[0]
    assert not Task.objects.exists()


def test_an_edit_cannot_add_a_refused_name_either(operator_api):
    assert operator_api.post("/api/tasks", simple_task("t", task_env={"PARAM1": "1"}), format="json").status_code == 201
    response = operator_api.patch("/api/tasks/t", {"task_env": {"PARAM1": "1", "LD_PRELOAD": "/tmp/x.so"}},
                                  format="json")
    assert 'task_env name "LD_PRELOAD" is refused' in refused_keys(response)[0]
    assert Task.objects.get().task_env == {"PARAM1": "1"}


def test_a_log_of_another_task_is_a_400_naming_task_log(operator_api):
    assert operator_api.post("/api/tasks", simple_task("first"), format="json").status_code == 201
    response = operator_api.post("/api/tasks", simple_task("second", task_log="logs/task_first.log"), format="json")
    assert response.status_code == 400
    assert response.json()["task_log"] == ['task_log "logs/task_first.log" is refused: it is the log of task "first". '
                                           'Give a path inside the logs folder, such as "logs/task_my-task.log".']
    assert list(Task.objects.values_list("task_id", flat=True)) == ["first"]
