"""The task type in a real browser: choosing http shows its own fields and hides the script chooser, and the task
is saved with its options; "Run with parameters…" gives one run its own values, shown on the run's page."""
import re

import pytest
from playwright.sync_api import expect

from tasks_app.models import Task, TaskExecution
from tasks_app.services.tasks import create_task

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_operator_makes_an_http_task_with_its_own_fields(logged_in):
    page = logged_in("operator")
    page.goto("/tasks/new")
    expect(page.locator('[data-task-type="http"]')).to_be_hidden()
    expect(page.locator("#div_id_task_exec")).to_be_visible()
    page.select_option("#id_task_type", "http")
    expect(page.locator('[data-task-type="http"]')).to_be_visible()
    expect(page.locator("#div_id_task_exec")).to_be_hidden()
    page.fill("#id_task_id", "pinger")
    page.fill("#id_task_name", "Ping")
    page.fill("#id_task_schedule", "*/10 * * * *")
    page.fill("#id_opt_http__url", "https://example.com/ping")
    page.select_option("#id_opt_http__method", "POST")
    page.fill("#id_opt_http__expected_statuses", "200, 204")
    page.click("#save-task")
    expect(page).to_have_url(re.compile(r"/tasks/pinger/view$"))
    expect(page.locator("#task-type")).to_contain_text("http")
    task = Task.objects.get(task_id="pinger")
    assert task.task_options["url"] == "https://example.com/ping" and task.task_options["expected_statuses"] == [200, 204]


def test_an_operator_runs_a_task_with_parameters_in_chinese(logged_in):
    create_task({"task_id": "open", "task_name": "Open", "task_exec": "tasks/test_task.py", "task_schedule": "0 3 * * *",
                 "task_allow_overrides": True}, actor="t", via="cli")
    page = logged_in("operator", locale="zh-CN")
    page.goto("/tasks/open/view")
    page.click("#run-with-parameters-toggle")
    page.fill("#run-env", "DAY=2024-01-31\nNOTE=from the browser")
    page.click("#run-with-env")
    expect(page.locator("#run-parameters")).to_contain_text("本次运行指定的参数")
    expect(page.locator("#run-parameters")).to_contain_text("2024-01-31")
    assert TaskExecution.objects.get().env_overrides == {"DAY": "2024-01-31", "NOTE": "from the browser"}
