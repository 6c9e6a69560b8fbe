"""The lock of the task_env editor in a real browser: a locked row is a password input whose value is stored
sealed; added and removed rows keep each lock on its own row; the edit page shows the secret as set, and saving it
unchanged keeps it. The same editor in the admin."""
import re

import pytest
from playwright.sync_api import expect

from tasks_app.models import Task
from tasks_app.secrets import keys

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_locking_a_row_makes_its_value_a_secret_kept_across_edits(logged_in):
    page = logged_in("operator")
    page.goto("/tasks/new")
    page.fill("#id_task_id", "locked")
    page.fill("#id_task_name", "Locked")
    page.fill("#id_task_schedule", "0 3 * * *")
    page.select_option("#id_task_exec", "tasks/test_task.py")
    page.fill(".kv-row >> nth=0 >> .kv-key", "REMOVED")
    page.click(".kv-add")
    page.fill(".kv-row >> nth=1 >> .kv-key", "DB_PASSWORD")
    page.click(".kv-row >> nth=1 >> .kv-lock")
    expect(page.locator(".kv-row >> nth=1 >> .kv-value")).to_have_attribute("type", "password")
    page.fill(".kv-row >> nth=1 >> .kv-value", "typed-in-the-browser")
    page.click(".kv-add")
    page.fill(".kv-row >> nth=2 >> .kv-key", "PLAIN")
    page.fill(".kv-row >> nth=2 >> .kv-value", "visible")
    # Removing the first row moves the locked one up: its lock must follow it.
    page.click(".kv-row >> nth=0 >> .kv-remove")
    page.click("#save-task")
    expect(page).to_have_url(re.compile(r"/tasks/locked/view$"))
    task = Task.objects.get(task_id="locked")
    assert task.task_env["PLAIN"] == "visible" and "REMOVED" not in task.task_env
    assert keys.open_secret(task.task_env["DB_PASSWORD"]) == "typed-in-the-browser"
    expect(page.locator(".secret-set")).to_contain_text("secret")
    assert "typed-in-the-browser" not in page.content()

    page.goto("/tasks/locked/edit")
    # The row of DB_PASSWORD, wherever it is (PostgreSQL's jsonb keeps no key order).
    row = page.locator(".kv-row", has=page.locator(".kv-key[value=DB_PASSWORD]"))
    expect(row.locator(".kv-set")).to_contain_text("set")
    expect(row.locator(".kv-value")).to_have_value("")
    expect(row.locator(".kv-value")).to_have_attribute("type", "password")
    page.fill("#id_task_name", "Locked, renamed")
    page.click("#save-task")
    expect(page).to_have_url(re.compile(r"/tasks/locked/view$"))
    after = Task.objects.get(task_id="locked")
    assert after.task_name == "Locked, renamed" and after.task_env == task.task_env


def test_the_admin_uses_the_same_editor_with_its_lock(logged_in):
    page = logged_in("admin")
    page.goto("/admin/tasks_app/task/add/")
    page.fill("#id_task_id", "admin-locked")
    page.fill("#id_task_name", "Admin locked")
    page.fill("#id_task_exec", "tasks/test_task.py")
    page.fill("#id_task_schedule", "0 4 * * *")
    page.fill(".kv-row >> nth=0 >> .kv-key", "API_TOKEN")
    page.click(".kv-row >> nth=0 >> .kv-lock")
    page.fill(".kv-row >> nth=0 >> .kv-value", "admin-browser-token")
    page.click("input[name=_save]")
    expect(page).to_have_url(re.compile(r"/admin/tasks_app/task/$"))
    assert keys.open_secret(Task.objects.get(task_id="admin-locked").task_env["API_TOKEN"]) == "admin-browser-token"
