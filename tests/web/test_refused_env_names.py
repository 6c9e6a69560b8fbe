"""As an operator, every name of the task_env deny list is a form error on the task page naming the key, and
nothing is saved: the issue's three attack variables, each exact name, a sample of each prefix and suffix rule."""
import pytest

from tasks_app.definition.envnames import sample_names
from tasks_app.models import Task

from .conftest import form_data

pytestmark = pytest.mark.django_db

ISSUE_ATTACK = {"PYTHONWARNINGS": "all:0:antigravity.x:0:0", "BROWSER": "/bin/bash", "BASH_ENV": "$(id > /tmp/pwned)"}


def env_errors(response):
    assert response.status_code == 400
    return [str(m) for m in response.context["form"].errors["task_env"]]


def test_the_issues_three_variables_are_refused_each_by_name(as_operator):
    response = as_operator.post("/tasks/new", form_data(**{"task_env-key": [*ISSUE_ATTACK, "PARAM1"],
                                                           "task_env-value": [*ISSUE_ATTACK.values(), "ok"]}))
    errors = env_errors(response)
    for name in ISSUE_ATTACK:
        assert any(f'task_env name "{name}" is refused' in e for e in errors), errors
    assert "Please correct the fields marked below." in response.content.decode()
    assert not Task.objects.exists()


@pytest.mark.parametrize("name", sample_names())
def test_each_name_of_the_deny_list_is_a_form_error_naming_the_key(as_operator, name):
    errors = env_errors(as_operator.post("/tasks/new", form_data(**{"task_env-key": [name], "task_env-value": ["x"]})))
    assert len(errors) == 1 and f'task_env name "{name}" is refused: ' in errors[0]
    assert not Task.objects.exists()


def test_editing_a_task_to_add_a_refused_name_is_refused(as_operator, task):
    response = as_operator.post("/tasks/test-task/edit", form_data(
        task_id="test-task", **{"task_env-key": ["PARAM1", "PATH"], "task_env-value": ["1", "/tmp"]}))
    assert 'task_env name "PATH" is refused' in env_errors(response)[0]
    assert "PATH" not in Task.objects.get(task_id="test-task").task_env
