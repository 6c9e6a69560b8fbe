"""As an operator, every name of the task_env deny list is a form error in the admin naming the key, and nothing is
saved: the issue's three attack variables, each exact name, a sample of each prefix and suffix rule."""
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from tasks_app.definition.envnames import sample_names
from tasks_app.models import Task

from .conftest import form_data

pytestmark = pytest.mark.django_db

ADD = reverse("admin:tasks_app_task_add")
ISSUE_ATTACK = {"PYTHONWARNINGS": "all:0:antigravity.x:0:0", "BROWSER": "/bin/bash", "BASH_ENV": "$(id > /tmp/pwned)"}


@pytest.fixture
def operator_admin(tasks_dir):
    user = get_user_model().objects.create_user("otto", password="pw-otto")
    user.groups.add(Group.objects.get_or_create(name="operator")[0])
    client = Client()
    client.force_login(user)
    return client


def env_errors(response):
    assert response.status_code == 200, response.status_code
    return [str(m) for m in response.context["adminform"].form.errors["task_env"]]


def test_the_issues_three_variables_are_refused_each_by_name(operator_admin):
    errors = env_errors(operator_admin.post(ADD, form_data(task_env=json.dumps({**ISSUE_ATTACK, "PARAM1": "ok"}))))
    for name in ISSUE_ATTACK:
        assert any(f'task_env name "{name}" is refused' in e for e in errors), errors
    assert not Task.objects.exists()


@pytest.mark.parametrize("name", sample_names())
def test_each_name_of_the_deny_list_is_a_form_error_naming_the_key(operator_admin, name):
    errors = env_errors(operator_admin.post(ADD, form_data(task_env=json.dumps({name: "x"}))))
    assert len(errors) == 1 and f'task_env name "{name}" is refused: ' in errors[0]
    assert not Task.objects.exists()
