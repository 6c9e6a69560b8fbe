"""The ways in read a task's central log and a run's shipped output: the API's lines, cursor and download, the log
page's JSON and download, the run's detail and output download; a task with a local file only is read as before.
A viewer may read them; nobody without a login."""
import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from tasks_app.models import ApiKey, ExecutionLogChunk

from .conftest import ship_log

LOG = (b"2024-03-01 10:00:00 - INFO - TaskExecutor - Execution 1 starting\n"
       b"2024-03-01 10:00:01 - paced - INFO - line 0\n"
       b"2024-03-01 10:00:02 - paced - ERROR - line 1 went wrong\n")


@pytest.fixture
def viewer(db):
    user = User.objects.create_user("vera", password="pw-vera")
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    return user


@pytest.fixture
def api(viewer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiKey.issue(viewer, name='k')[1]}")
    return client


@pytest.fixture
def page(client, viewer):
    client.force_login(viewer)
    return client


def body_of(response):
    return b"".join(response.streaming_content)


def test_the_api_reads_the_central_log_with_its_filters_cursor_and_download(api, task, run):
    ship_log(task, run, LOG, cuts=[10, 70])
    answer = api.get(f"/api/tasks/{task.task_id}/logs?tail=2").json()
    assert answer["central"] and answer["exists"] and answer["size"] == len(LOG)
    assert [line["text"] for line in answer["lines"]] == LOG.decode().splitlines()[-2:]
    errors = api.get(f"/api/tasks/{task.task_id}/logs?level=ERROR").json()
    assert [line["text"] for line in errors["lines"]] == ["2024-03-01 10:00:02 - paced - ERROR - line 1 went wrong"]
    ExecutionLogChunk.append_log(task.pk, run.pk, [b"2024-03-01 10:00:03 - paced - INFO - line 2\n"], 3)
    polled = api.get(f"/api/tasks/{task.task_id}/logs?offset={answer['next_offset']}").json()
    assert [line["text"] for line in polled["lines"]] == ["2024-03-01 10:00:03 - paced - INFO - line 2"]
    download = api.get(f"/api/tasks/{task.task_id}/logs/download")
    assert download.status_code == 200 and body_of(download).endswith(b"line 2\n")


def test_the_log_page_its_lines_and_its_download_read_the_central_log(page, task, run):
    ship_log(task, run, LOG)
    assert page.get(f"/tasks/{task.task_id}/logs").status_code == 200
    lines = page.get(f"/tasks/{task.task_id}/logs/lines?tail=500").json()
    assert lines["central"] and len(lines["lines"]) == 3
    download = page.get(f"/tasks/{task.task_id}/logs/download")
    assert download.status_code == 200 and body_of(download) == LOG


def test_a_runs_shipped_output_is_in_its_api_record_its_download_and_its_page(api, page, task, run):
    ExecutionLogChunk.append_output(task.pk, run.pk, [b"hello from ", b"machine b\n"], 0)
    detail = api.get(f"/api/tasks/{task.task_id}/executions/{run.pk}").json()
    assert detail["output"] == "hello from machine b\n"
    assert body_of(api.get(detail["output_url"])) == b"hello from machine b\n"
    assert "hello from machine b" in page.get(f"/tasks/{task.task_id}/executions/{run.pk}").content.decode()


def test_a_task_with_only_a_local_log_is_read_from_its_file(api, task, settings):
    (settings.LOGS_DIR / f"task_{task.task_id}.log").write_bytes(LOG)
    answer = api.get(f"/api/tasks/{task.task_id}/logs").json()
    assert not answer["central"] and len(answer["lines"]) == 3


@pytest.mark.parametrize("executor, central", [("celery", True), ("local", False)])
def test_the_executor_says_which_log_is_read_when_a_task_has_both(api, task, run, settings, executor, central):
    """A task moved from one executor to the other: its newest lines are where its runs now write them."""
    settings.SCHEDULER_EXECUTOR = executor
    ship_log(task, run, b"shipped by a worker\n")
    (settings.LOGS_DIR / f"task_{task.task_id}.log").write_bytes(b"written by the local executor\n")
    answer = api.get(f"/api/tasks/{task.task_id}/logs").json()
    assert answer["central"] is central
    assert [line["text"] for line in answer["lines"]] == (
        ["shipped by a worker"] if central else ["written by the local executor"])


def test_without_a_login_the_central_log_is_refused(client, task, run):
    ship_log(task, run, LOG)
    assert APIClient().get(f"/api/tasks/{task.task_id}/logs").status_code == 401
    assert client.get(f"/tasks/{task.task_id}/logs/lines").status_code == 302
