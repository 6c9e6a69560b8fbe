"""The task list (/): columns, search and filters, pagination, live rows, the enable switch, empty states."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks_app.models import Task, TaskExecution, TaskStatus


def rows(response):
    return [t.task_id for t in response.context["tasks"]]


def test_the_list_shows_id_name_status_next_run_and_last_result(as_viewer, task):
    now = timezone.now()
    run = TaskExecution.objects.create(task=task, status="failed", trigger="schedule", start_time=now - timedelta(minutes=5),
                                       end_time=now - timedelta(minutes=5) + timedelta(seconds=12), duration=12)
    TaskStatus.objects.filter(task=task).update(
        next_run_time=now + timedelta(minutes=3, seconds=30), last_execution=run, last_status="failed",
        last_start_time=run.start_time, last_end_time=run.end_time)
    html = as_viewer.get("/").content.decode()
    assert "test-task" in html and "测试任务" in html
    assert 'data-status="idle"' in html and 'data-status="failed"' in html
    assert "in 3\xa0minutes" in html
    assert "5\xa0minutes ago" in html and "12.0 s" in html
    assert f"/tasks/test-task/executions/{run.execution_id}" in html


def test_the_status_column_says_running_idle_or_disabled(as_viewer, make_task):
    make_task("idle-one")
    make_task("off", task_enabled=False)
    busy = make_task("busy")
    TaskStatus.objects.filter(task=busy).update(running=True)
    html = as_viewer.get("/").content.decode()
    for task_id, state in (("idle-one", "idle"), ("off", "disabled"), ("busy", "running")):
        row = html.split(f'id="task-{task_id}"', 1)[1].split("</tr>", 1)[0]
        assert f'data-status="{state}"' in row, task_id


def test_search_looks_in_id_name_and_description(as_viewer, make_task):
    make_task("alpha", task_name="Backup", task_desc="copies the database")
    make_task("beta", task_name="Report", task_desc="mails numbers")
    assert rows(as_viewer.get("/?q=alp")) == ["alpha"]
    assert rows(as_viewer.get("/?q=report")) == ["beta"]
    assert rows(as_viewer.get("/?q=DATABASE")) == ["alpha"]


def test_filters_on_status_and_last_result(as_viewer, make_task):
    make_task("a")
    make_task("b", task_enabled=False)
    c = make_task("c")
    TaskStatus.objects.filter(task=c).update(running=True, last_status="success")
    TaskStatus.objects.filter(task_id=Task.objects.get(task_id="a").pk).update(last_status="failed")
    assert rows(as_viewer.get("/?state=running")) == ["c"]
    assert rows(as_viewer.get("/?state=disabled")) == ["b"]
    assert rows(as_viewer.get("/?state=idle")) == ["a"]
    assert rows(as_viewer.get("/?last=failed")) == ["a"]
    assert rows(as_viewer.get("/?last=never")) == ["b"]
    assert rows(as_viewer.get("/?last=success&state=running")) == ["c"]


def test_unknown_filter_values_are_ignored_not_an_error(as_viewer, task):
    response = as_viewer.get("/?state=weird&last=%3Cscript%3E&page=abc")
    assert response.status_code == 200 and rows(response) == ["test-task"]


def test_no_task_matching_says_so_and_offers_the_whole_list(as_viewer, task):
    html = as_viewer.get("/?q=zzz").content.decode()
    assert "No task matches these filters." in html


def test_an_empty_list_invites_an_operator_to_create_a_task(as_operator):
    html = as_operator.get("/").content.decode()
    assert "No tasks yet." in html and "Create your first task" in html


def test_an_empty_list_tells_a_viewer_whom_to_ask(as_viewer):
    html = as_viewer.get("/").content.decode()
    assert "No tasks yet." in html and "Ask an operator" in html and "Create your first task" not in html


def test_the_list_is_paginated_by_50_and_keeps_the_filters_in_page_links(as_viewer, make_task, django_assert_max_num_queries):
    from tasks_app.models import TaskStatus as S
    Task.objects.bulk_create([Task(task_id=f"t{i:03}", task_name=f"Task {i}", task_exec="tasks/test_task.py",
                                   task_schedule="* * * * *") for i in range(120)])
    S.objects.bulk_create([S(task=t) for t in Task.objects.all()])
    with django_assert_max_num_queries(9):  # not one query per row (one reads the scheduler's lease, for the banner)
        first = as_viewer.get("/?q=t")
    assert len(rows(first)) == 50
    assert "?q=t&amp;page=2" in first.content.decode()
    assert rows(as_viewer.get("/?q=t&page=3"))[-1] == "t119"


def test_the_rows_alone_come_back_for_the_live_refresh(as_viewer, task):
    response = as_viewer.get("/", HTTP_X_FRAGMENT="rows")
    html = response.content.decode()
    assert 'id="task-test-task"' in html and "<nav" not in html and "<tbody" not in html


@pytest.mark.parametrize("role_client", ["operator"], indirect=True)
def test_the_switch_disables_and_enables_without_a_reload(role_client, task, web_log):
    response = role_client.post("/tasks/test-task/disable", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    data = response.json()
    assert data["enabled"] is False and 'data-status="disabled"' in data["row"]
    assert not Task.objects.get(task_id="test-task").task_enabled
    assert role_client.post("/tasks/test-task/enable", HTTP_ACCEPT="application/json").json()["enabled"] is True
    assert Task.objects.get(task_id="test-task").task_enabled
    assert "user-operator disabled task test-task" in web_log.text
    assert "user-operator enabled task test-task" in web_log.text


@pytest.mark.parametrize("role_client", ["operator"], indirect=True)
def test_enable_and_disable_buttons_work_without_script_too(role_client, task):
    response = role_client.post("/tasks/test-task/disable", {"next": "/?q=test"})
    assert response.status_code == 302 and response["Location"] == "/?q=test"
    assert "Task test-task disabled." in role_client.get("/").content.decode()


@pytest.mark.parametrize("role_client", ["operator"], indirect=True)
def test_a_next_link_to_another_site_is_not_followed(role_client, task):
    response = role_client.post("/tasks/test-task/disable", {"next": "https://evil.example/"})
    assert response["Location"] == "/tasks/test-task/view"
