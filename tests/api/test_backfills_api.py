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


def test_a_bad_backfill_field_is_named_with_the_value_given(operator_client):
    make_daily(operator_client)
    cases = [({"concurrency": 99}, "concurrency", "99"), ({"concurrency": "many"}, "concurrency", '"many"'),
             ({"rerun_succeeded": "maybe"}, "rerun_succeeded", '"maybe"'),
             ({"task_id": ["daily"]}, "task_id", '["daily"]'),
             ({"order": "random"}, "order", '"random"')]
    for change, field, shown in cases:
        body = {"task_id": "daily", "start": "2025-10-01", "end": "2025-10-03", **change}
        answer = operator_client.post("/api/backfills", body, format="json")
        assert answer.status_code == 400 and shown in answer.json()[field][0], answer.json()
    missing = operator_client.post("/api/backfills", {"task_id": "daily", "start": "2025-10-01"}, format="json")
    assert missing.status_code == 400 and missing.json()["end"] == ["This field is required."]
    assert not Backfill.objects.exists()


def test_a_backfill_over_a_freeze_longer_than_the_next_run_search_still_gets_the_slots_after_it(operator_client):
    # The search for next fire times gives up after three years of excluded days; a backfill's range is its own
    # bound, so the ten January days after a four-year freeze are not silently left out.
    operator_client.post("/api/calendars", {"name": "gap", "ranges": [
        {"start": "2020-01-01", "end": "2023-12-31", "label": "long freeze"}]}, format="json")
    operator_client.post("/api/tasks", simple_task("daily", task_schedule="0 3 * * *", task_calendar="gap"),
                         format="json")
    answer = operator_client.post("/api/backfills", {"task_id": "daily", "start": "2019-12-01", "end": "2024-01-10"},
                                  format="json")
    assert answer.status_code == 201 and answer.json()["slots"] == 31 + 10, answer.json()
    last = TaskExecution.objects.filter(backfill_id=answer.json()["id"]).order_by("-scheduled_time").first()
    assert last.scheduled_time.isoformat() == "2024-01-10T03:00:00+00:00"


def test_a_backfill_sent_twice_does_not_queue_its_slots_twice(operator_client):
    # A double click on "Start backfill": the slots already queued by a running backfill are left out, as the
    # slots that already succeeded are.
    make_daily(operator_client)
    first = operator_client.post("/api/backfills", {"task_id": "daily", "start": "2025-10-01", "end": "2025-10-03"},
                                 format="json")
    again = operator_client.post("/api/backfills", {"task_id": "daily", "start": "2025-10-01", "end": "2025-10-03"},
                                 format="json")
    assert first.status_code == 201 and again.status_code == 400, again.json()
    assert "3 already queued" in again.json()["start"][0]
    wider = operator_client.post("/api/backfills", {"task_id": "daily", "start": "2025-10-02", "end": "2025-10-05",
                                                    "rerun_succeeded": True}, format="json")
    assert wider.status_code == 201 and (wider.json()["slots"], wider.json()["skipped_slots"]) == (2, 2)
    assert TaskExecution.objects.filter(trigger="backfill").count() == 5
    operator_client.post(f"/api/backfills/{first.json()['id']}/cancel")
    after_cancel = operator_client.post("/api/backfills", {"task_id": "daily", "start": "2025-10-01",
                                                           "end": "2025-10-01"}, format="json")
    assert after_cancel.status_code == 201 and after_cancel.json()["slots"] == 1
