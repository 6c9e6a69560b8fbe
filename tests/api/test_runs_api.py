"""Execute, stop, status, next run times and the execution history (with captured output)."""
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
import time_machine
from django.utils import timezone

from tasks_app.models import ExecutionStatus, TaskExecution, TaskStatus, Trigger
from tasks_app.services.tasks import create_task

from .conftest import DOCUMENT_EXAMPLE_TASK, simple_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(db):
    return create_task(simple_task("job"), actor="t", via="cli")


def test_execute_answers_202_with_the_queued_execution(operator_client, task):
    response = operator_client.post("/api/tasks/job/execute")
    assert response.status_code == 202
    body = response.json()
    execution = TaskExecution.objects.get(execution_id=body["execution_id"])
    assert body == {"task_id": "job", "execution_id": execution.execution_id, "status": "queued",
                    "url": f"/api/tasks/job/executions/{execution.execution_id}"}
    assert response["Location"] == body["url"]
    assert execution.status == ExecutionStatus.QUEUED and execution.trigger == Trigger.MANUAL
    assert execution.requested_by == "operator-user"


def test_stop_is_a_409_when_nothing_runs(operator_client, task):
    response = operator_client.post("/api/tasks/job/stop")
    assert response.status_code == 409
    assert response.json() == {"detail": "Task 'job' has no running execution to stop."}


def test_stop_flags_a_running_execution_and_cancels_a_queued_one(operator_client, task):
    running = TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, trigger=Trigger.SCHEDULE,
                                           start_time=timezone.now())
    queued = TaskExecution.objects.create(task=task, status=ExecutionStatus.QUEUED, trigger=Trigger.MANUAL)
    response = operator_client.post("/api/tasks/job/stop")
    assert response.status_code == 202
    assert response.json() == {"task_id": "job", "stopping": [queued.execution_id, running.execution_id]}
    running.refresh_from_db()
    assert running.stop_requested_by == "operator-user"


def test_status_says_idle_running_or_disabled_with_the_last_execution(viewer_client, operator_client, task):
    body = viewer_client.get("/api/tasks/job/status").json()
    assert body["status"] == "idle" and body["last_execution"] is None and body["next_run_time"]
    run = TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, start_time=timezone.now())
    TaskStatus.objects.filter(task=task).update(running=True, last_execution=run)
    body = viewer_client.get("/api/tasks/job/status").json()
    assert body["status"] == "running" and body["running"] and body["last_execution"] == run.execution_id
    TaskStatus.objects.filter(task=task).update(running=False, last_status="success")
    operator_client.patch("/api/tasks/job", {"task_enabled": False}, format="json")
    body = viewer_client.get("/api/tasks/job/status").json()
    assert body["status"] == "disabled" and body["next_run_time"] is None and body["last_status"] == "success"


def test_next_run_is_given_in_the_tasks_zone_and_lists_count_times_after_an_instant(viewer_client, db):
    create_task(simple_task("sh", task_schedule="0 9 * * *", task_timezone="Asia/Shanghai"), actor="t", via="cli")
    with time_machine.travel(datetime(2024, 5, 1, 0, 30, tzinfo=dt_timezone.utc), tick=False):
        body = viewer_client.get("/api/tasks/sh/next-run").json()
        assert body["next_run_time"] == "2024-05-01T09:00:00+08:00" and "next_run_times" not in body
        assert body["timezone"] == "Asia/Shanghai" and body["enabled"] is True
        listed = viewer_client.get("/api/tasks/sh/next-run", {"count": 3, "after": "2024-06-30T12:00:00+02:00"}).json()
    assert listed["next_run_time"] == "2024-05-01T09:00:00+08:00"
    assert listed["next_run_times"] == ["2024-07-01T09:00:00+08:00", "2024-07-02T09:00:00+08:00",
                                        "2024-07-03T09:00:00+08:00"]


def test_next_run_follows_clock_changes_of_the_tasks_zone(viewer_client, db):
    create_task(simple_task("ny", task_schedule="30 2 * * *", task_timezone="America/New_York"), actor="t",
                via="cli")
    times = viewer_client.get("/api/tasks/ny/next-run", {"count": 3, "after": "2024-03-09T12:00:00Z"}).json()
    # 02:30 does not exist on 10 March 2024 in New York: the run happens when clocks jump, at 03:00 EDT.
    assert times["next_run_times"] == ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00",
                                       "2024-03-12T02:30:00-04:00"]


def test_next_run_is_null_for_a_disabled_task_and_a_chain_task(viewer_client, db):
    create_task(simple_task("off", task_enabled=False), actor="t", via="cli")
    create_task(simple_task("base"), actor="t", via="cli")
    create_task(simple_task("chain", task_schedule="", task_dependencies=["base"]), actor="t", via="cli")
    for task_id in ("off", "chain"):
        body = viewer_client.get(f"/api/tasks/{task_id}/next-run?count=3").json()
        assert body["next_run_time"] is None and body["next_run_times"] == []


@pytest.mark.parametrize("query, field", [
    ("count=0", "count"), ("count=101", "count"), ("count=x", "count"), ("after=tomorrow", "after"),
    ("after=9999-12-31T00:00:00", "after"), ("after=2024-02-30T00:00:00", "after"),
])
def test_bad_next_run_parameters_are_a_400_naming_the_parameter(viewer_client, task, query, field):
    response = viewer_client.get(f"/api/tasks/job/next-run?{query}")
    assert response.status_code == 400 and list(response.json()) == [field]


def make_history(task, n=5):
    start = datetime(2024, 1, 1, tzinfo=dt_timezone.utc)
    runs = []
    for i in range(n):
        runs.append(TaskExecution.objects.create(
            task=task, status=ExecutionStatus.SUCCESS if i % 2 == 0 else ExecutionStatus.FAILED,
            trigger=Trigger.SCHEDULE, scheduled_time=start + timedelta(hours=i), start_time=start + timedelta(hours=i),
            end_time=start + timedelta(hours=i, seconds=3), return_code=0 if i % 2 == 0 else 1, duration=3.0,
        ))
    return runs


def test_the_history_is_newest_first_paginated_and_filtered(viewer_client, task):
    runs = make_history(task, 5)
    body = viewer_client.get("/api/tasks/job/executions").json()
    assert body["next"] is None and body["previous"] is None  # paging by cursor: test_execution_pages.py
    assert [r["execution_id"] for r in body["results"]] == [r.execution_id for r in reversed(runs)]
    assert set(body["results"][0]) >= {"execution_id", "task_id", "status", "trigger", "start_time", "end_time",
                                       "return_code", "error_message", "duration", "output_truncated"}
    failed = viewer_client.get("/api/tasks/job/executions?status=failed").json()
    assert [r["execution_id"] for r in failed["results"]] == [runs[3].execution_id, runs[1].execution_id]
    window = viewer_client.get("/api/tasks/job/executions", {"since": "2024-01-01T01:00:00Z",
                                                            "until": "2024-01-01T10:00:00+08:00"}).json()
    assert [r["execution_id"] for r in window["results"]] == [runs[2].execution_id, runs[1].execution_id]


@pytest.mark.parametrize("query, field", [("status=great", "status"), ("since=x", "since"),
                                          ("trigger=magic", "trigger"), ("until=2024-01-01T25:00", "until")])
def test_bad_history_parameters_are_a_400_naming_the_parameter(viewer_client, task, query, field):
    response = viewer_client.get(f"/api/tasks/job/executions?{query}")
    assert response.status_code == 400 and list(response.json()) == [field]


def test_a_time_with_an_offset_postgresql_refuses_filters_the_history_all_the_same(viewer_client, task):
    runs = make_history(task, 2)  # found by schemathesis: PostgreSQL accepts offsets up to 15:59, Python 23:59
    response = viewer_client.get("/api/tasks/job/executions", {"since": "2023-12-31T05:00:00-19:30"})
    assert response.status_code == 200
    assert [r["execution_id"] for r in response.json()["results"]] == [runs[1].execution_id]


def test_an_execution_shows_all_its_fields_its_output_and_a_link_to_it(viewer_client, task):
    run = make_history(task, 1)[0]
    run.output_path.parent.mkdir(parents=True, exist_ok=True)
    run.output_path.write_text("hello from the script\n")
    body = viewer_client.get(f"/api/tasks/job/executions/{run.execution_id}").json()
    assert body["execution_id"] == run.execution_id and body["status"] == "success" and body["return_code"] == 0
    assert body["output"] == "hello from the script\n" and body["output_truncated"] is False
    assert body["output_url"] == f"/api/tasks/job/executions/{run.execution_id}/output"
    download = viewer_client.get(body["output_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"hello from the script\n"


def test_an_execution_of_another_task_or_without_output_is_a_404(viewer_client, task):
    other = create_task(simple_task("other"), actor="t", via="cli")
    run = make_history(other, 1)[0]
    assert viewer_client.get(f"/api/tasks/job/executions/{run.execution_id}").status_code == 404
    assert viewer_client.get("/api/tasks/job/executions/999999999999999999").status_code == 404
    assert viewer_client.get(f"/api/tasks/other/executions/{run.execution_id}").json()["output"] == ""
    assert viewer_client.get(f"/api/tasks/other/executions/{run.execution_id}/output").status_code == 404


def test_a_huge_output_is_shown_in_part_and_flagged(viewer_client, task, monkeypatch):
    from tasks_app.api import views_runs

    monkeypatch.setattr(views_runs, "OUTPUT_INLINE_MAX", 100)
    run = make_history(task, 1)[0]
    run.output_path.parent.mkdir(parents=True, exist_ok=True)
    run.output_path.write_text("x" * 1000 + "END")
    body = viewer_client.get(f"/api/tasks/job/executions/{run.execution_id}").json()
    assert body["output"].endswith("END") and len(body["output"]) == 100 and body["output_truncated"] is True


def test_the_document_example_can_be_queued_to_run(operator_client):
    operator_client.post("/api/tasks", DOCUMENT_EXAMPLE_TASK, format="json")
    response = operator_client.post("/api/tasks/test-task/execute")
    assert response.status_code == 202
    assert operator_client.get("/api/tasks/test-task/executions").json()["results"][0]["status"] == "queued"


@pytest.mark.parametrize("zone", ["UTC", "America/St_Johns"])  # the times in the zone of the answer, as DRF's
def test_a_history_row_is_what_the_execution_serializer_says_for_a_full_and_a_bare_run(viewer_client, task, zone,
                                                                                       settings):
    from tasks_app.api.serializers import ExecutionSerializer

    settings.TIME_ZONE = zone
    from tasks_app.models import Backfill

    moment = datetime(2024, 3, 1, 12, 0, 0, 250000, tzinfo=dt_timezone.utc)
    backfill = Backfill.objects.create(task=task, start=moment, end=moment + timedelta(hours=1), requested_by="t")
    full = TaskExecution.objects.create(
        task=task, status=ExecutionStatus.FAILED, trigger=Trigger.BACKFILL, scheduled_time=moment, attempt=2,
        queued_at=moment, not_before=moment, start_time=moment, end_time=moment + timedelta(seconds=1.5),
        return_code=3, error_message="boom", duration=1.5, requested_by="alice", stop_requested_by="bob",
        worker="w1", node="n1", pid=1234, output_truncated=True, note="a note", backfill=backfill)
    bare = TaskExecution.objects.create(task=task, status=ExecutionStatus.QUEUED, trigger=Trigger.MANUAL)
    results = viewer_client.get("/api/tasks/job/executions").json()["results"]
    expected = ExecutionSerializer(TaskExecution.objects.filter(pk__in=[bare.pk, full.pk]).order_by("-pk"),
                                   many=True).data
    assert results == [dict(row) for row in expected]
    assert results[1]["start_time"] == {"UTC": "2024-03-01T12:00:00.250000Z",
                                        "America/St_Johns": "2024-03-01T08:30:00.250000-03:30"}[zone]
    assert results[1]["backfill"] == backfill.pk and results[1]["duration"] == 1.5 and results[0]["pid"] is None
    detail = viewer_client.get(f"/api/tasks/job/executions/{full.execution_id}").json()
    assert {name: detail[name] for name in expected[1]} == dict(expected[1])
