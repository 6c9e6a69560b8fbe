"""/api/backfills: an operator runs a task for a date range and cancels it; viewers read it; bad input is named."""
from auditlog.models import LogEntry

from tasks_app.models import Backfill, ExecutionStatus, TaskExecution

from .conftest import simple_task


def make_daily(client):
    answer = client.post("/api/tasks", simple_task("daily", task_schedule="0 3 * * *", task_timezone="Asia/Shanghai"),
                         format="json")
    assert answer.status_code == 201, answer.json()


def test_an_operator_runs_a_task_for_ten_days_and_a_viewer_sees_the_backfill(operator_client, viewer_client):
    make_daily(operator_client)
    answer = operator_client.post("/api/backfills", {"task_id": "daily", "start": "2025-10-01", "end": "2025-10-10",
                                                     "concurrency": 2}, format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["slots"], body["state"], body["order"], body["concurrency"]) == (10, "running", "oldest_first", 2)
    assert body["start"] == "2025-10-01T00:00:00+08:00" and body["end"].startswith("2025-10-10T23:59:59")
    assert body["counts"] == {"queued": 10}
    runs = TaskExecution.objects.filter(backfill_id=body["id"]).order_by("execution_id")
    assert [r.scheduled_time.isoformat() for r in runs][:2] == ["2025-09-30T19:00:00+00:00",
                                                               "2025-10-01T19:00:00+00:00"]
    listed = viewer_client.get("/api/backfills?task=daily").json()["results"]
    assert [b["id"] for b in listed] == [body["id"]]
    assert viewer_client.get(f"/api/backfills/{body['id']}").json()["task_id"] == "daily"
    assert LogEntry.objects.filter(additional_data__event="backfill.started").count() == 1


def test_an_operator_cancels_a_backfill_as_a_whole(operator_client):
    make_daily(operator_client)
    body = operator_client.post("/api/backfills", {"task_id": "daily", "start": "2025-10-01", "end": "2025-10-03"},
                                format="json").json()
    answer = operator_client.post(f"/api/backfills/{body['id']}/cancel")
    assert answer.status_code == 200 and answer.json() == {"cancelled": 3, "stopping": []}
    assert set(TaskExecution.objects.filter(backfill_id=body["id"]).values_list("status", flat=True)) == {
        ExecutionStatus.STOPPED}
    assert operator_client.get(f"/api/backfills/{body['id']}").json()["state"] == "cancelled"
    again = operator_client.post(f"/api/backfills/{body['id']}/cancel")
    assert again.status_code == 400 and "no run left" in again.json()["non_field_errors"][0]


def test_a_viewer_cannot_start_or_cancel_a_backfill(operator_client, viewer_client):
    make_daily(operator_client)
    refused = viewer_client.post("/api/backfills", {"task_id": "daily", "start": "2025-10-01", "end": "2025-10-03"},
                                 format="json")
    assert refused.status_code == 403 and not Backfill.objects.exists()
    body = operator_client.post("/api/backfills", {"task_id": "daily", "start": "2025-10-01", "end": "2025-10-03"},
                                format="json").json()
    assert viewer_client.post(f"/api/backfills/{body['id']}/cancel").status_code == 403


def test_bad_backfills_are_refused_naming_the_field_and_the_value(operator_client):
    make_daily(operator_client)
    cases = [
        ({"task_id": "nope", "start": "2025-10-01", "end": "2025-10-03"}, "task_id"),
        ({"task_id": "daily", "start": "soon", "end": "2025-10-03"}, "start"),
        ({"task_id": "daily", "start": "2025-10-05", "end": "2025-10-03"}, "end"),
        ({"task_id": "daily", "start": "2025-10-01", "end": "2999-10-03"}, "end"),
        ({"task_id": "daily", "start": "2025-10-01", "end": "2025-10-03", "concurrency": 0}, "concurrency"),
        ({"task_id": "daily", "start": "2025-10-01", "end": "2025-10-03", "order": "random"}, "order"),
        ({"task_id": "daily", "start": 5, "end": "2025-10-03"}, "start"),
    ]
    for body, field in cases:
        answer = operator_client.post("/api/backfills", body, format="json")
        assert answer.status_code == 400 and field in answer.json(), (body, answer.json())
    assert not Backfill.objects.exists()


def test_a_runs_record_names_its_backfill_and_the_engines_note(operator_client, viewer_client):
    make_daily(operator_client)
    body = operator_client.post("/api/backfills", {"task_id": "daily", "start": "2025-10-01", "end": "2025-10-01"},
                                format="json").json()
    run = TaskExecution.objects.get(backfill_id=body["id"])
    TaskExecution.objects.filter(pk=run.pk).update(note="cn-workdays has no data for 2027")
    answer = viewer_client.get(f"/api/tasks/daily/executions/{run.pk}").json()
    assert answer["backfill"] == body["id"] and answer["trigger"] == "backfill"
    assert answer["note"] == "cn-workdays has no data for 2027"
