"""A task's history, one execution with its output, and the task log: page, live-tail JSON and download."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from tasks_app.models import TaskExecution
from tasks_app.definition.paths import task_log_file


def run(task, status="success", start=None, **extra):
    start = start or timezone.now() - timedelta(hours=1)
    fields = dict(task=task, status=status, trigger="schedule", start_time=start, attempt=1)
    if status not in ("running", "queued"):
        fields.update(end_time=start + timedelta(seconds=3), duration=3.0, return_code=0 if status == "success" else 2)
    fields.update(extra)
    return TaskExecution.objects.create(**fields)


def ids(response):
    return [e.execution_id for e in response.context["executions"]]


# ---- history ----------------------------------------------------------------------------------------------------

def test_the_history_lists_runs_newest_first_with_every_column(as_viewer, task):
    old = run(task, "success")
    new = run(task, "failed", trigger="retry", attempt=2)
    response = as_viewer.get("/tasks/test-task/executions")
    assert ids(response) == [new.execution_id, old.execution_id]
    html = response.content.decode()
    for text in ("Start", "End", "Status", "Duration", "Return code", "Trigger", "Attempt", "Retry", "3.00 s",
                 'data-status="failed"', f"/tasks/test-task/executions/{new.execution_id}"):
        assert text in html, text


def test_the_history_filters_on_status_and_days(as_viewer, task, settings):
    settings.TIME_ZONE = "UTC"
    a = run(task, "success", start=datetime(2025, 3, 1, 12, tzinfo=dt_timezone.utc))
    b = run(task, "failed", start=datetime(2025, 3, 2, 23, 59, tzinfo=dt_timezone.utc))
    c = run(task, "failed", start=datetime(2025, 3, 3, 0, 1, tzinfo=dt_timezone.utc))
    assert ids(as_viewer.get("/tasks/test-task/executions?status=failed")) == [c.execution_id, b.execution_id]
    assert ids(as_viewer.get("/tasks/test-task/executions?since=2025-03-02")) == [c.execution_id, b.execution_id]
    assert ids(as_viewer.get("/tasks/test-task/executions?until=2025-03-02")) == [b.execution_id, a.execution_id]
    assert ids(as_viewer.get("/tasks/test-task/executions?since=2025-03-02&until=2025-03-02&status=failed")) == [b.execution_id]


def test_bad_filter_values_are_explained_not_a_crash(as_viewer, task):
    run(task)
    response = as_viewer.get("/tasks/test-task/executions?status=exploded&since=yesterday&until=2025-13-45")
    assert response.status_code == 200
    html = response.content.decode()
    assert "status &#x27;exploded&#x27; is not one of queued, running, success" in html
    assert "since &#x27;yesterday&#x27; is not a date" in html and "until &#x27;2025-13-45&#x27; is not a date" in html


def test_the_history_pages_by_50_without_counting_every_run(as_viewer, task, django_assert_max_num_queries):
    TaskExecution.objects.bulk_create([TaskExecution(task=task, status="success", trigger="manual") for _ in range(120)])
    # Every page also reads the pauses on now (the banner): one indexed query.
    with django_assert_max_num_queries(7) as queries:
        first = as_viewer.get("/tasks/test-task/executions")
    assert len(ids(first)) == 50 and first.context["page"].has_next
    # The pager asks for 51 rows instead of counting a history that may hold a million.
    assert "COUNT(" not in " ".join(q["sql"].upper() for q in queries.captured_queries)
    last = as_viewer.get("/tasks/test-task/executions?page=3")
    assert len(ids(last)) == 20 and not last.context["page"].has_next
    assert "Rows 101–120" in last.content.decode()
    beyond = as_viewer.get("/tasks/test-task/executions?page=99")
    assert beyond.status_code == 200 and ids(beyond) == []


def test_an_empty_history_offers_to_run_the_task(as_operator, task):
    html = as_operator.get("/tasks/test-task/executions").content.decode()
    assert "This task has not run yet." in html and "Run it now" in html


# ---- one execution ----------------------------------------------------------------------------------------------

def test_the_execution_page_shows_output_and_error(as_viewer, task):
    execution = run(task, "failed", error_message="Exited with code 2", requested_by="scheduler")
    execution.output_path.parent.mkdir(parents=True, exist_ok=True)
    execution.output_path.write_text("hello from the script\n<b>not bold</b>\n", encoding="utf-8")
    html = as_viewer.get(f"/tasks/test-task/executions/{execution.execution_id}").content.decode()
    assert "hello from the script" in html and "&lt;b&gt;not bold&lt;/b&gt;" in html
    assert "Exited with code 2" in html and 'data-status="failed"' in html
    assert 'id="stop-run"' not in html


def test_a_long_output_shows_its_last_2000_lines(as_viewer, task):
    execution = run(task)
    execution.output_path.parent.mkdir(parents=True, exist_ok=True)
    execution.output_path.write_text("".join(f"line {i}\n" for i in range(5000)))
    html = as_viewer.get(f"/tasks/test-task/executions/{execution.execution_id}").content.decode()
    assert "line 4999" in html and "line 3000\n" in html and "line 2999\n" not in html
    assert "only the last 2000 lines are shown" in html


@pytest.mark.parametrize("role_client, stop_shown", [("viewer", False), ("operator", True)], indirect=["role_client"])
def test_a_running_execution_has_a_stop_button_for_operators(role_client, task, stop_shown):
    execution = run(task, "running")
    html = role_client.get(f"/tasks/test-task/executions/{execution.execution_id}").content.decode()
    assert ('id="stop-run"' in html) is stop_shown
    assert 'data-active="1"' in html and "No output yet." in html


def test_the_execution_part_refreshes_alone(as_viewer, task):
    execution = run(task, "running")
    html = as_viewer.get(f"/tasks/test-task/executions/{execution.execution_id}",
                         HTTP_X_FRAGMENT="execution").content.decode()
    assert 'data-active="1"' in html and "<nav" not in html


def test_an_execution_of_another_task_is_not_found_here(as_viewer, make_task):
    other = make_task("other")
    make_task("mine")
    execution = run(other)
    assert as_viewer.get(f"/tasks/mine/executions/{execution.execution_id}").status_code == 404


# ---- the task log -----------------------------------------------------------------------------------------------

LOG = """2025-03-01 10:00:00,000 - test_task - INFO - 任务开始执行
2025-03-01 10:00:01,000 - test_task - WARNING - PARAM3 missing
2025-03-01 10:00:02,000 - test_task - ERROR - upstream answered 503
Traceback (most recent call last):
ValueError: boom
2025-03-01 10:00:03,000 - test_task - INFO - 任务执行完成
"""


@pytest.fixture
def log_file(task, settings):
    settings.TIME_ZONE = "UTC"
    path = task_log_file(task)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LOG, encoding="utf-8")
    return path


def lines(response):
    assert response.status_code == 200, response.content
    return [ln["text"] for ln in response.json()["lines"]]


def test_the_log_page_has_filters_pause_autoscroll_and_download(as_viewer, task):
    html = as_viewer.get("/tasks/test-task/logs").content.decode()
    for part in ('id="log-level"', 'id="log-search"', 'id="log-since"', 'id="log-until"', 'id="log-pause"',
                 'id="log-autoscroll"', "/tasks/test-task/logs/download", "/tasks/test-task/logs/lines"):
        assert part in html, part


def test_the_tail_returns_the_last_lines_and_an_offset_to_poll_from(as_viewer, log_file):
    data = as_viewer.get("/tasks/test-task/logs/lines?tail=2").json()
    assert [ln["text"] for ln in data["lines"]] == ["ValueError: boom", "2025-03-01 10:00:03,000 - test_task - INFO - 任务执行完成"]
    assert data["next_offset"] == log_file.stat().st_size and data["more_before"]
    with open(log_file, "a", encoding="utf-8") as f:
        f.write("2025-03-01 10:00:04,000 - test_task - INFO - one more\n")
    assert lines(as_viewer.get(f"/tasks/test-task/logs/lines?offset={data['next_offset']}")) == [
        "2025-03-01 10:00:04,000 - test_task - INFO - one more"]


def test_earlier_lines_come_before_a_byte_offset(as_viewer, log_file):
    data = as_viewer.get("/tasks/test-task/logs/lines?tail=2").json()
    earlier = as_viewer.get(f"/tasks/test-task/logs/lines?tail=10&before={data['start_offset']}").json()
    assert len(earlier["lines"]) == 4 and not earlier["more_before"]


def test_the_log_filters_on_level_search_and_time(as_viewer, log_file):
    assert lines(as_viewer.get("/tasks/test-task/logs/lines?level=ERROR")) == [
        "2025-03-01 10:00:02,000 - test_task - ERROR - upstream answered 503", "Traceback (most recent call last):",
        "ValueError: boom"]
    assert lines(as_viewer.get("/tasks/test-task/logs/lines?search=503")) == [
        "2025-03-01 10:00:02,000 - test_task - ERROR - upstream answered 503"]
    timed = lines(as_viewer.get("/tasks/test-task/logs/lines?since=2025-03-01T10:00:01&until=2025-03-01T10:00:01"))
    assert timed == ["2025-03-01 10:00:01,000 - test_task - WARNING - PARAM3 missing"]


@pytest.mark.parametrize("query, field", [("tail=abc", "tail"), ("tail=0", "tail"), ("tail=999999", "tail"),
                                          ("offset=-1", "offset"), ("level=LOUD", "level"), ("since=tomorrow", "since"),
                                          ("until=2025-02-30T10:00", "until")])
def test_bad_log_parameters_are_a_400_naming_the_parameter(as_viewer, log_file, query, field):
    response = as_viewer.get(f"/tasks/test-task/logs/lines?{query}")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_task_without_a_log_yet_says_so(as_viewer, task):
    data = as_viewer.get("/tasks/test-task/logs/lines").json()
    assert data["exists"] is False and data["lines"] == []
    assert as_viewer.get("/tasks/test-task/logs/download").status_code == 404


def test_the_log_downloads_as_a_file(as_viewer, log_file):
    response = as_viewer.get("/tasks/test-task/logs/download")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="task_test-task.log"'
    assert b"".join(response.streaming_content).decode("utf-8") == LOG
