"""GET /api/tasks/{id}/logs and /logs/download: tails, a live-tail cursor, filters and a streamed download."""
from pathlib import Path

import pytest
from django.conf import settings
from django.http import FileResponse

from tasks_app.services.tasks import create_task

from .conftest import simple_task

pytestmark = pytest.mark.django_db

LOG = """2024-03-01 10:00:00,001 - test_task - INFO - 任务开始执行
2024-03-01 10:00:01 - test_task - WARNING - disk almost full
2024-03-01 10:00:02 - ERROR - TaskExecutor - it failed
Traceback (most recent call last):
ZeroDivisionError: division by zero
2024-03-01 10:00:03 - INFO - TaskExecutor - retrying
"""


@pytest.fixture
def task_log(db, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    create_task(simple_task("logger"), actor="t", via="cli")
    path = settings.LOGS_DIR / "task_logger.log"
    path.write_text(LOG, encoding="utf-8")
    return path


def texts(response):
    return [line["text"] for line in response.json()["lines"]]


def test_a_tail_returns_the_last_lines_with_their_time_level_and_offset(viewer_client, task_log):
    response = viewer_client.get("/api/tasks/logger/logs?tail=2")
    assert response.status_code == 200
    body = response.json()
    assert body["file"] == "logs/task_logger.log" and body["exists"] and body["size"] == len(LOG.encode())
    assert texts(response) == LOG.splitlines()[-2:]
    assert body["lines"][1] == {"offset": LOG.encode().index(b"2024-03-01 10:00:03"), "text": LOG.splitlines()[-1],
                                "time": "2024-03-01T10:00:03+08:00", "level": "INFO", "truncated": False}
    assert body["next_offset"] == body["size"] and body["more_before"] and not body["partial"]


def test_older_lines_come_with_before_set_to_the_previous_start_offset(viewer_client, task_log):
    newest = viewer_client.get("/api/tasks/logger/logs?tail=2").json()
    older = viewer_client.get(f"/api/tasks/logger/logs?tail=10&before={newest['start_offset']}")
    assert texts(older) == LOG.splitlines()[:-2] and not older.json()["more_before"]


def test_polling_with_the_offset_cursor_returns_only_new_lines(viewer_client, task_log):
    first = viewer_client.get("/api/tasks/logger/logs?tail=1").json()
    assert viewer_client.get(f"/api/tasks/logger/logs?offset={first['next_offset']}").json()["lines"] == []
    with open(task_log, "a", encoding="utf-8") as f:
        f.write("2024-03-01 10:00:04 - INFO - TaskExecutor - 执行完成\n2024-03-01 10:00:05 - INFO - x - half")
    polled = viewer_client.get(f"/api/tasks/logger/logs?offset={first['next_offset']}").json()
    assert [line["text"] for line in polled["lines"]] == [
        "2024-03-01 10:00:04 - INFO - TaskExecutor - 执行完成", "2024-03-01 10:00:05 - INFO - x - half"]
    assert polled["partial"]  # the last line is still being written: it comes again from next_offset
    assert polled["next_offset"] == polled["lines"][1]["offset"]
    with open(task_log, "a", encoding="utf-8") as f:
        f.write(" and done\n")
    again = viewer_client.get(f"/api/tasks/logger/logs?offset={polled['next_offset']}").json()
    assert [line["text"] for line in again["lines"]] == ["2024-03-01 10:00:05 - INFO - x - half and done"]
    assert not again["partial"] and again["next_offset"] == task_log.stat().st_size


def test_an_offset_past_the_end_after_rotation_restarts_from_zero(viewer_client, task_log):
    task_log.write_text("2024-03-02 00:00:00 - INFO - x - fresh file\n")
    body = viewer_client.get("/api/tasks/logger/logs?offset=100000").json()
    assert body["reset"] and [line["text"] for line in body["lines"]] == ["2024-03-02 00:00:00 - INFO - x - fresh file"]


def test_level_filter_keeps_that_level_and_above_with_tracebacks(viewer_client, task_log):
    assert texts(viewer_client.get("/api/tasks/logger/logs?level=error")) == LOG.splitlines()[2:5]
    assert texts(viewer_client.get("/api/tasks/logger/logs?level=WARNING&tail=2")) == LOG.splitlines()[3:5]


def test_search_and_time_range_filter_lines(viewer_client, task_log):
    assert texts(viewer_client.get("/api/tasks/logger/logs?search=DIVISION")) == [LOG.splitlines()[4]]
    assert texts(viewer_client.get("/api/tasks/logger/logs?search=任务")) == [LOG.splitlines()[0]]
    # Log times are Shanghai local times (the server's zone); an instant with an offset is compared correctly.
    since = "2024-03-01T02:00:01Z"
    until = "2024-03-01T10:00:02+08:00"
    response = viewer_client.get("/api/tasks/logger/logs", {"since": since, "until": until})
    assert texts(response) == LOG.splitlines()[1:5]
    forward = viewer_client.get("/api/tasks/logger/logs", {"since": since, "until": until, "offset": 0})
    assert texts(forward) == LOG.splitlines()[1:5]
    naive = viewer_client.get("/api/tasks/logger/logs", {"since": "2024-03-01 10:00:03"})
    assert texts(naive) == LOG.splitlines()[5:]


def test_a_task_that_never_ran_has_an_empty_log_not_an_error(viewer_client, db):
    create_task(simple_task("quiet"), actor="t", via="cli")
    body = viewer_client.get("/api/tasks/quiet/logs").json()
    assert body["exists"] is False and body["lines"] == [] and body["next_offset"] == 0
    response = viewer_client.get("/api/tasks/quiet/logs/download")
    assert response.status_code == 404 and "no log yet" in response.json()["detail"]


@pytest.mark.parametrize("query, field", [
    ("tail=0", "tail"), ("tail=10001", "tail"), ("tail=99999999999999999999999", "tail"), ("tail=ten", "tail"),
    ("offset=-1", "offset"), ("offset=1.5", "offset"), ("limit=0", "limit"), ("before=x", "before"),
    ("level=LOUD", "level"), ("since=yesterday", "since"), ("until=2024-13-01", "until"),
    ("since=0001-01-01T00:00:00", "since"), ("search=" + "s" * 300, "search"),
])
def test_bad_log_parameters_are_a_400_naming_the_parameter(viewer_client, task_log, query, field):
    response = viewer_client.get(f"/api/tasks/logger/logs?{query}")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]


def test_the_download_streams_the_file_as_an_attachment(viewer_client, task_log):
    response = viewer_client.get("/api/tasks/logger/logs/download")
    assert response.status_code == 200
    assert isinstance(response, FileResponse) and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="task_logger.log"'
    assert b"".join(response.streaming_content) == LOG.encode()  # consuming it closes the file
    as_text = viewer_client.get("/api/tasks/logger/logs/download", HTTP_ACCEPT="text/plain")
    assert as_text.status_code == 200 and b"".join(as_text.streaming_content) == LOG.encode()


def test_a_log_path_outside_the_logs_folder_is_never_served(viewer_client, db):
    from tasks_app.models import Task

    # A row written before the loader's rule (or edited in the database): the engine writes such a task's lines
    # to the document's default file, and that is the file the API reads.
    Task.objects.create(task_id="sneaky", task_name="s", task_exec="tasks/test_task.py", task_schedule="* * * * *",
                        task_log="/etc/passwd")
    assert viewer_client.get("/api/tasks/sneaky/logs").json()["exists"] is False
    assert viewer_client.get("/api/tasks/sneaky/logs/download").status_code == 404
    (Path(settings.LOGS_DIR) / "task_sneaky.log").write_text("2024-01-01 10:00:00 - INFO - x - mine\n")
    assert [line["text"] for line in viewer_client.get("/api/tasks/sneaky/logs").json()["lines"]] == [
        "2024-01-01 10:00:00 - INFO - x - mine"]
    assert b"root:" not in b"".join(viewer_client.get("/api/tasks/sneaky/logs/download").streaming_content)
