"""The task page (/tasks/{id}/view), the run/stop buttons, the delete confirmation and the cron preview."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks_app.models import ExecutionStatus, Task, TaskExecution


def finished(task, status="success", seconds=2.0, ago_minutes=10, **extra):
    start = timezone.now() - timedelta(minutes=ago_minutes)
    return TaskExecution.objects.create(task=task, status=status, trigger="schedule", start_time=start,
                                        end_time=start + timedelta(seconds=seconds), duration=seconds,
                                        return_code=0 if status == "success" else 1, **extra)


def test_the_task_page_shows_configuration_status_and_next_five_runs(as_viewer, task, settings):
    html = as_viewer.get("/tasks/test-task/view").content.decode()
    for text in ("测试任务", "用于测试任务调度引擎的功能", "*/3 * * * *", "Every 3 minutes", "tasks/test_task.py",
                 "5 min", "3 retries, 60 s apart", "Skip the new run", "logs/task_test-task.log",
                 "on failure", "admin@example.com", "PARAM1", "值1", "DISPLAY_BORDER"):
        assert text in html, text
    next_runs = html.split('id="next-runs"', 1)[1].split("</ol>", 1)[0]
    assert next_runs.count("<li") == 5


def test_the_next_runs_are_shown_in_the_tasks_own_zone(as_viewer, make_task):
    make_task("berlin", task_schedule="0 9 * * *", task_timezone="Europe/Berlin")
    html = as_viewer.get("/tasks/berlin/view").content.decode()
    assert "Next runs (Europe/Berlin)" in html
    assert html.count(" 09:00:00 <small") == 5


def test_a_disabled_task_has_no_planned_runs(as_viewer, make_task):
    make_task("off", task_enabled=False)
    assert "Disabled: no runs are planned." in as_viewer.get("/tasks/off/view").content.decode()


def test_dependencies_and_dependents_are_links(as_viewer, make_task):
    make_task("first")
    make_task("second", task_schedule="", task_dependencies=["first"])
    make_task("third", task_schedule="", task_dependencies=["second"])
    html = as_viewer.get("/tasks/second/view").content.decode()
    runs_after = html.split("Runs after:", 1)[1].split("</div>", 1)[0]
    followed_by = html.split("Followed by:", 1)[1].split("</div>", 1)[0]
    assert 'href="/tasks/first/view"' in runs_after
    assert 'href="/tasks/third/view"' in followed_by
    assert "No schedule: runs after its dependencies or by hand." in html


def test_the_chart_draws_the_last_50_runs_coloured_by_result(as_viewer, task):
    for i in range(60):
        finished(task, status="failed" if i % 10 == 0 else "success", seconds=1 + i, ago_minutes=100 - i)
    response = as_viewer.get("/tasks/test-task/view")
    html = response.content.decode()
    chart = html.split('class="run-chart', 1)[1].split("</svg>", 1)[0]
    assert chart.count("<rect") == 50
    assert chart.count('data-status="failed"') == 5
    assert "longest: 1 min" in html
    assert len(response.context["recent"]) == 10


def test_a_task_that_never_ran_says_so(as_viewer, task):
    html = as_viewer.get("/tasks/test-task/view").content.decode()
    assert "No runs yet." in html and "run-chart" not in html


@pytest.mark.parametrize("role_client", ["operator"], indirect=True)
def test_run_now_queues_a_manual_execution_and_opens_it(role_client, task, web_log):
    response = role_client.post("/tasks/test-task/run")
    execution = TaskExecution.objects.get(task=task)
    assert execution.status == ExecutionStatus.QUEUED and execution.trigger == "manual"
    assert execution.requested_by == "user-operator"
    assert response["Location"] == f"/tasks/test-task/executions/{execution.execution_id}"
    assert f"user-operator asked to run task test-task now (execution {execution.execution_id})" in web_log.text


@pytest.mark.parametrize("role_client", ["operator"], indirect=True)
def test_run_now_answers_json_to_a_script(role_client, task):
    response = role_client.post("/tasks/test-task/run", HTTP_ACCEPT="application/json")
    assert response.status_code == 202
    assert response.json()["url"].startswith("/tasks/test-task/executions/")


@pytest.mark.parametrize("role_client", ["operator"], indirect=True)
def test_stop_flags_the_running_execution(role_client, task, web_log):
    running = TaskExecution.objects.create(task=task, status="running", trigger="manual", start_time=timezone.now())
    assert 'id="stop-task"' in role_client.get("/tasks/test-task/view").content.decode()
    response = role_client.post("/tasks/test-task/stop", {"next": f"/tasks/test-task/executions/{running.execution_id}"})
    assert response.status_code == 302
    running.refresh_from_db()
    assert running.stop_requested_by == "user-operator"
    assert "user-operator asked to stop task test-task" in web_log.text


@pytest.mark.parametrize("role_client", ["operator"], indirect=True)
def test_stopping_a_task_that_is_not_running_says_so(role_client, task):
    assert 'id="stop-task"' not in role_client.get("/tasks/test-task/view").content.decode()
    response = role_client.post("/tasks/test-task/stop", follow=True)
    assert "Task test-task is not running." in response.content.decode()
    assert role_client.post("/tasks/test-task/stop", HTTP_ACCEPT="application/json").status_code == 409


def test_delete_asks_for_confirmation_then_deletes(as_admin, task, web_log):
    finished(task)
    page = as_admin.get("/tasks/test-task/delete").content.decode()
    assert "Delete task test-task?" in page and "1 recorded run" in page
    assert Task.objects.filter(task_id="test-task").exists()
    response = as_admin.post("/tasks/test-task/delete", follow=True)
    assert not Task.objects.filter(task_id="test-task").exists()
    assert "Task test-task deleted." in response.content.decode()
    assert "ada deleted task test-task" in web_log.text


def test_a_task_others_depend_on_is_not_deleted_and_the_page_says_why(as_admin, make_task):
    make_task("base")
    make_task("child", task_schedule="", task_dependencies=["base"])
    assert "These tasks run after it:" in as_admin.get("/tasks/base/delete").content.decode()
    response = as_admin.post("/tasks/base/delete", follow=True)
    assert Task.objects.filter(task_id="base").exists()
    assert "child" in response.content.decode() and "cannot be deleted" in response.content.decode()


# ---- cron preview -----------------------------------------------------------------------------------------------

def test_the_cron_preview_describes_the_expression_and_lists_five_times(as_viewer):
    response = as_viewer.get("/tasks/cron-preview", {"expr": "30 7 * * 1-5", "tz": "Asia/Shanghai"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "At 07:30, Monday through Friday" in html
    assert html.count("07:30:00 <small") == 5 and "+08:00" in html


def test_the_cron_preview_speaks_chinese_to_a_chinese_browser(as_viewer):
    html = as_viewer.get("/tasks/cron-preview", {"expr": "*/5 * * * *"}, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "每" in html and "分钟" in html


@pytest.mark.parametrize("expr, fragment", [("61 * * * *", "61"), ("* * *", "* * *"), ("* * 31 2 *", "")])
def test_the_cron_preview_names_the_error(as_viewer, expr, fragment):
    response = as_viewer.get("/tasks/cron-preview", {"expr": expr})
    html = response.content.decode()
    if expr == "* * 31 2 *":  # valid, but February has no 31st
        assert "never" in html.lower()
        return
    assert response.status_code == 400
    assert 'data-valid="0"' in html and fragment in html


def test_the_cron_preview_refuses_an_unknown_zone(as_viewer):
    response = as_viewer.get("/tasks/cron-preview", {"expr": "* * * * *", "tz": "Mars/Base"})
    assert response.status_code == 400 and "Mars/Base" in response.content.decode()


def test_an_empty_schedule_previews_as_a_chain_task(as_viewer):
    html = as_viewer.get("/tasks/cron-preview", {"expr": ""}).content.decode()
    assert "runs only after its dependencies" in html
