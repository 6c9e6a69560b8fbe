"""Secrets on the pages: the lock of a task_env row makes its value a secret, stored sealed; the form and the task
page show only that it is set and when, to every role; a locked row left empty keeps it, a new value replaces it,
removing the row removes it; the webhook is shown as scheme and host and kept when posted back as shown."""
import re

import pytest

from tasks_app.models import Task
from tasks_app.secrets import keys
from tests.secrets.helpers import assert_sealed, conf_texts, raw_row

from .conftest import form_data

PASSWORD = "page-typed-passw0rd"
HOOK = "https://hooks.example.com/services/T1/B2/PAGESECRETTOKEN"


@pytest.fixture(autouse=True)
def public_hooks(monkeypatch):
    monkeypatch.setattr("tasks_app.outbound.resolve", lambda host, port: ["93.184.216.34"])


@pytest.fixture
def secret_task(as_operator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_operator.post("/tasks/new", form_data(**{
            "task_env-key": ["PLAIN", "DB_PASSWORD"], "task_env-value": ["visible", PASSWORD],
            "task_env-secret": ["1"], "notify_webhook": HOOK}))
    assert response.status_code == 302, response.context["form"].errors
    return Task.objects.get(task_id="nightly")


def test_a_locked_row_is_stored_sealed_in_the_database_and_conf(secret_task):
    assert secret_task.task_env["PLAIN"] == "visible"
    assert keys.open_secret(secret_task.task_env["DB_PASSWORD"]) == PASSWORD
    assert_sealed(raw_row("nightly"), PASSWORD, "PAGESECRETTOKEN")
    for text in conf_texts().values():
        assert_sealed(text, PASSWORD, "PAGESECRETTOKEN")


@pytest.mark.parametrize("role_client", ["viewer", "operator", "admin"], indirect=True)
def test_no_page_shows_a_secret_to_any_role(secret_task, role_client):
    for url in ("/tasks/nightly/view", "/tasks/nightly/edit", "/"):
        response = role_client.get(url)
        html = response.content.decode()
        assert PASSWORD not in html and "PAGESECRETTOKEN" not in html and "gAAAA" not in html, url
    page = role_client.get("/tasks/nightly/view").content.decode()
    assert "🔒 secret" in page and "https://hooks.example.com/..." in page


def test_the_edit_form_shows_a_set_secret_as_set_with_when_and_an_empty_locked_row(secret_task, as_operator):
    html = as_operator.get("/tasks/nightly/edit").content.decode()
    row = re.search(r'<div class="input-group mb-1 kv-row">((?:(?!kv-row).)*value="DB_PASSWORD".*?)</div>', html,
                    re.S).group(1)
    assert 'type="password"' in row and 'value=""' in row and "secret set — type to replace" in row
    assert re.search(r'class="input-group-text small kv-set"[^>]*>set \d{4}-\d\d-\d\d \d\d:\d\d<', row)
    assert re.search(r'name="task_env-secret" value="1"[^>]* checked', row)
    assert 'value="https://hooks.example.com/..."' in html


def test_posting_the_edit_form_back_unchanged_keeps_the_secret_and_the_webhook(secret_task, as_operator):
    response = as_operator.post("/tasks/nightly/edit", form_data(**{
        "task_name": "Renamed", "task_env-key": ["PLAIN", "DB_PASSWORD"], "task_env-value": ["visible", ""],
        "task_env-secret": ["1"], "notify_webhook": "https://hooks.example.com/..."}))
    assert response.status_code == 302, response.context["form"].errors
    after = Task.objects.get(task_id="nightly")
    assert after.task_name == "Renamed"
    assert after.task_env == secret_task.task_env and after.task_notify == secret_task.task_notify


def test_an_operator_replaces_and_removes_a_secret_on_the_form(secret_task, as_operator):
    as_operator.post("/tasks/nightly/edit", form_data(**{
        "task_env-key": ["PLAIN", "DB_PASSWORD"], "task_env-value": ["visible", "replaced"], "task_env-secret": ["1"]}))
    assert keys.open_secret(Task.objects.get(task_id="nightly").task_env["DB_PASSWORD"]) == "replaced"
    as_operator.post("/tasks/nightly/edit", form_data(**{"task_env-key": ["PLAIN"], "task_env-value": ["visible"]}))
    assert Task.objects.get(task_id="nightly").task_env == {"PLAIN": "visible"}


def test_a_typed_secret_is_not_sent_back_when_the_form_has_another_error(as_operator):
    response = as_operator.post("/tasks/new", form_data(**{
        "task_schedule": "61 * * * *", "task_env-key": ["DB_PASSWORD"], "task_env-value": [PASSWORD],
        "task_env-secret": ["0"]}))
    assert response.status_code == 400
    assert PASSWORD not in response.content.decode()


def test_a_locked_row_without_a_value_on_a_new_task_is_refused_naming_the_key(as_operator):
    response = as_operator.post("/tasks/new", form_data(**{
        "task_env-key": ["TOKEN"], "task_env-value": [""], "task_env-secret": ["0"]}))
    assert response.status_code == 400
    assert 'keeps a stored secret, but this task has no secret named "TOKEN"' in " ".join(
        response.context["form"].errors["task_env"])


@pytest.mark.parametrize("changes, field, fragment", [
    ({"task_name": "n" * 201}, "task_name", "201"),
    ({"task_desc": "d" * 10_001}, "task_desc", "task_desc is 10001 characters long; at most 10000"),
    ({"task_env-key": ["BIG"], "task_env-value": ["v" * 32_769]}, "task_env",
     'task_env value of "BIG" is 32769 bytes long'),
    ({"task_env-key": [f"K{i}" for i in range(201)], "task_env-value": ["v"] * 201}, "task_env",
     "task_env has 201 entries; at most 200"),
])
def test_the_length_limits_are_refused_next_to_their_field(as_operator, changes, field, fragment):
    response = as_operator.post("/tasks/new", form_data(**changes))
    assert response.status_code == 400
    assert fragment in " ".join(response.context["form"].errors[field])
