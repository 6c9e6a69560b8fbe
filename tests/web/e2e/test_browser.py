"""The pages in a real browser (headless Chromium) against the live server and the real scheduler."""
import re

import pytest
from playwright.sync_api import expect

from tasks_app.models import ExecutionStatus, Task, TaskExecution
from tests.engine.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_task_goes_from_creation_to_a_live_log_to_deletion(logged_in, runscheduler, live_server):
    scheduler = runscheduler(ready=False)  # starts while we fill the form
    page = logged_in("admin")

    # An empty list says what to do next.
    expect(page.locator(".empty-state")).to_contain_text("No tasks yet.")
    page.click("text=Create your first task")
    expect(page).to_have_url(re.compile(r"/tasks/new$"))

    page.fill("#id_task_id", "e2e-task")
    page.fill("#id_task_name", "Browser test task")

    # A bad expression is explained next to the field while typing...
    page.fill("#id_task_schedule", "61 * * * *")
    expect(page.locator(".cron-preview .cron-error")).to_contain_text("61")
    expect(page.locator("#id_task_schedule")).to_have_class(re.compile("is-invalid"))
    # ...and the template picker writes a good one, previewed in words with the next five times.
    page.select_option(".cron-template", "daily")
    page.fill(".cron-time", "03:15")
    page.dispatch_event(".cron-time", "change")
    expect(page.locator("#id_task_schedule")).to_have_value("15 3 * * *")
    expect(page.locator(".cron-preview .cron-description")).to_contain_text("At 03:15")
    expect(page.locator(".cron-preview .cron-times li")).to_have_count(5)
    expect(page.locator("#id_task_schedule")).not_to_have_class(re.compile("is-invalid"))

    page.select_option("#id_task_exec", "tasks/test_task.py")
    # The key-value editor: fill a row, add two, remove one.
    page.fill(".kv-row >> nth=0 >> .kv-key", "PARAM_E2E")
    page.fill(".kv-row >> nth=0 >> .kv-value", "hello-from-the-browser")
    page.click(".kv-add")
    page.fill(".kv-row >> nth=1 >> .kv-key", "DISPLAY_COLOR")
    page.fill(".kv-row >> nth=1 >> .kv-value", "green")
    page.click(".kv-add")
    page.fill(".kv-row >> nth=2 >> .kv-key", "REMOVE_ME")
    page.click(".kv-row >> nth=2 >> .kv-remove")
    expect(page.locator(".kv-row")).to_have_count(2)
    page.click("#save-task")

    expect(page).to_have_url(re.compile(r"/tasks/e2e-task/view$"))
    expect(page.locator(".alert-success")).to_contain_text("Task e2e-task saved.")
    task = Task.objects.get(task_id="e2e-task")
    assert task.task_schedule == "15 3 * * *"
    assert task.task_env == {"PARAM_E2E": "hello-from-the-browser", "DISPLAY_COLOR": "green"}
    expect(page.locator("#next-runs li")).to_have_count(5)

    # The log page is open before the run: the script's lines must arrive without a reload.
    page.goto("/tasks/e2e-task/logs")
    expect(page.locator("#log-status")).to_contain_text("No log yet")
    scheduler.wait_ready()
    other = page.context.new_page()
    other.goto("/tasks/e2e-task/view")
    other.click("#run-now")
    expect(other).to_have_url(re.compile(r"/tasks/e2e-task/executions/\d+$"))
    expect(page.locator("#log-lines")).to_contain_text("PARAM_E2E = hello-from-the-browser", timeout=20_000)
    assert page.url.endswith("/tasks/e2e-task/logs")  # no navigation happened

    # The execution page follows the run to its end by itself.
    expect(other.locator(".execution-state .status-badge")).to_have_attribute("data-status", "success", timeout=20_000)
    expect(other.locator("#execution-output")).to_contain_text("hello-from-the-browser")
    execution = TaskExecution.objects.get(task=task)
    assert execution.status == ExecutionStatus.SUCCESS and execution.requested_by == "e2e-admin"

    # Search highlights matches in the log.
    page.fill("#log-search", "hello-from")
    expect(page.locator("#log-lines mark").first).to_have_text("hello-from")

    # The history lists the run.
    page.goto("/tasks/e2e-task/executions")
    row = page.locator(".execution-table tbody tr").first
    expect(row).to_contain_text(f"#{execution.execution_id}")
    expect(row.locator(".status-badge")).to_have_attribute("data-status", "success")
    expect(row).to_contain_text("Manual")

    # The switch disables the task without leaving the list.
    page.goto("/")
    switch = page.locator("#enabled-e2e-task")
    expect(switch).to_be_checked()
    switch.click()
    expect(page.locator("#task-e2e-task .task-state .status-badge")).to_have_attribute("data-status", "disabled")
    assert page.url == live_server.url + "/"
    wait_for(lambda: not Task.objects.get(task_id="e2e-task").task_enabled, 5, what="the task to be disabled")

    # Delete, after a confirmation.
    page.click("#task-e2e-task >> text=Delete")
    expect(page.locator("h2")).to_contain_text("Delete task e2e-task?")
    page.click("#confirm-delete")
    expect(page.locator(".alert-success")).to_contain_text("Task e2e-task deleted.")
    expect(page.locator(".empty-state")).to_be_visible()
    assert not Task.objects.filter(task_id="e2e-task").exists()
    other.close()


def test_the_task_list_refreshes_statuses_by_itself(logged_in, make_task):
    from tasks_app.models import TaskStatus

    make_task("watched")
    page = logged_in("viewer")
    badge = page.locator("#task-watched .task-state .status-badge")
    expect(badge).to_have_attribute("data-status", "idle")
    TaskStatus.objects.filter(task__task_id="watched").update(running=True)
    expect(badge).to_have_attribute("data-status", "running", timeout=10_000)
    # A viewer sees no switch and no buttons.
    expect(page.locator("#enabled-watched")).to_have_count(0)
    expect(page.locator("#task-watched form[action$='/run']")).to_have_count(0)


def test_the_pages_fit_a_phone_screen(logged_in, make_task):
    make_task("a-task-with-a-rather-long-identifier-to-wrap", task_name="名称" * 60)
    page = logged_in("operator", width=390, height=844)
    for url in ("/", "/tasks/a-task-with-a-rather-long-identifier-to-wrap/view", "/tasks/new",
                "/tasks/a-task-with-a-rather-long-identifier-to-wrap/logs"):
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{url} is {overflow}px wider than the phone"


def test_chinese_browsers_get_chinese_pages_and_the_switcher_changes_it(logged_in, make_task):
    make_task("zh-task")
    page = logged_in("admin", locale="zh-CN")
    expect(page.locator("h1")).to_have_text("任务")
    expect(page.locator("#task-zh-task .status-badge").first).to_have_text("空闲")
    page.select_option("#language-select", "en")
    expect(page.locator("h1")).to_have_text("Tasks")


def test_log_lines_and_search_matches_are_shown_as_text_never_as_markup(logged_in, make_task):
    from tasks_app.definition.paths import task_log_file

    path = task_log_file(make_task("marked"))
    path.write_text('2024-01-01 10:00:00 - INFO - x - <img src=x onerror="window.pwned=1"> &amp; done\n')
    page = logged_in("viewer")
    page.goto("/tasks/marked/logs")
    lines = page.locator("#log-lines")
    expect(lines).to_contain_text('<img src=x onerror="window.pwned=1"> &amp; done')
    page.fill("#log-search", "AMP")
    # One match, in the text itself (not inside an escaped entity), marked by a <mark> element.
    expect(lines.locator("mark")).to_have_count(1)
    expect(lines.locator("mark")).to_have_text("amp")
    page.fill("#log-search", "<img")
    expect(lines.locator("mark")).to_have_text("<img")
    assert lines.locator("img").count() == 0 and page.evaluate("window.pwned") is None
