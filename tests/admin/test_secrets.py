"""Secrets in the admin: the same task_env editor as the pages (a lock per row), secrets stored sealed, shown to
no role (the change page of an operator or admin, the read-only page of a viewer), kept when posted back empty and
locked; the webhook shown as scheme and host and kept when posted back as shown."""
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from tasks_app.models import Task
from tasks_app.secrets import keys
from tests.secrets.helpers import assert_sealed, conf_texts, raw_row

from .conftest import form_data

pytestmark = pytest.mark.django_db
ADD = reverse("admin:tasks_app_task_add")
PASSWORD = "admin-typed-passw0rd"
HOOK = "https://hooks.example.com/services/ADMINSECRETTOKEN"


def client_as(role, **flags):
    user = get_user_model().objects.get_or_create(username=f"user-{role}", defaults=flags)[0]
    if role != "superuser":
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    client = Client()
    client.force_login(user)
    return client


def change_url(task):
    return reverse("admin:tasks_app_task_change", args=[task.pk])


def rows(**changes):
    return form_data(task_env=None, **{"task_env-key": ["PLAIN", "DB_PASSWORD"], "task_env-value": ["visible", PASSWORD],
                                       "task_env-secret": ["1"], **changes})


@pytest.fixture(autouse=True)
def public_hooks(monkeypatch):
    monkeypatch.setattr("tasks_app.outbound.resolve", lambda host, port: ["93.184.216.34"])


@pytest.fixture
def secret_task(tasks_dir, commit):
    with commit():
        response = client_as("operator").post(ADD, rows(task_notify='{"on_failure": true, "webhook": "%s"}' % HOOK))
    assert response.status_code == 302, response.context["adminform"].form.errors
    return Task.objects.get(task_id="nightly")


def test_a_secret_set_in_the_admin_is_stored_sealed(secret_task):
    assert keys.open_secret(secret_task.task_env["DB_PASSWORD"]) == PASSWORD
    assert_sealed(raw_row("nightly"), PASSWORD, "ADMINSECRETTOKEN")
    for text in conf_texts().values():
        assert_sealed(text, PASSWORD, "ADMINSECRETTOKEN")


@pytest.mark.parametrize("role", ["viewer", "operator", "admin", "superuser"])
def test_no_admin_page_shows_a_secret_to_any_role(secret_task, role):
    client = client_as(role, is_superuser=role == "superuser", is_staff=role == "superuser")
    for url in (change_url(secret_task), reverse("admin:tasks_app_task_changelist")):
        html = client.get(url).content.decode()
        assert PASSWORD not in html and "ADMINSECRETTOKEN" not in html and "gAAAA" not in html, (role, url)
    page = client.get(change_url(secret_task)).content.decode()
    assert "https://hooks.example.com/..." in page
    assert "DB_PASSWORD" in page and ("🔒 secret, set" in page or "secret set — type to replace" in page)


def test_the_change_page_posted_back_as_shown_keeps_the_secret_and_the_webhook(secret_task):
    client = client_as("operator")
    form = client.get(change_url(secret_task)).context["adminform"].form
    shown_notify = form["task_notify"].value()
    assert "ADMINSECRETTOKEN" not in shown_notify and "hooks.example.com/..." in shown_notify
    response = client.post(change_url(secret_task), rows(task_id=None, task_name="Renamed", task_notify=shown_notify,
                                                          **{"task_env-value": ["visible", ""]}))
    assert response.status_code == 302, response.context["adminform"].form.errors
    after = Task.objects.get(task_id="nightly")
    assert after.task_name == "Renamed"
    assert after.task_env == secret_task.task_env and after.task_notify == secret_task.task_notify


def test_the_admin_replaces_and_removes_a_secret(secret_task):
    client = client_as("operator")
    client.post(change_url(secret_task), rows(task_id=None, **{"task_env-value": ["visible", "replaced"]}))
    assert keys.open_secret(Task.objects.get(task_id="nightly").task_env["DB_PASSWORD"]) == "replaced"
    client.post(change_url(secret_task), rows(task_id=None, **{"task_env-key": ["PLAIN"], "task_env-value": ["visible"],
                                                                "task_env-secret": []}))
    assert Task.objects.get(task_id="nightly").task_env == {"PLAIN": "visible"}


def test_the_editor_rows_show_the_lock_of_a_set_secret(secret_task):
    html = client_as("operator").get(change_url(secret_task)).content.decode()
    assert re.search(r'name="task_env-secret" value="1"[^>]* checked', html)
    assert "tasks_app/kv_editor.js" in html and "tasks_app/kv_editor.css" in html
