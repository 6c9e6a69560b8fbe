"""Backfill on the history page: operators run a task for a date range and cancel it as a whole; the page shows
each backfill as a group and filters the runs by it; viewers see but cannot start or cancel."""
from tasks_app.models import Backfill, ExecutionStatus, TaskExecution


def test_an_operator_starts_a_backfill_from_the_history_page_and_sees_it_as_a_group(as_operator, make_task):
    make_task("daily", task_schedule="0 3 * * *", task_timezone="Asia/Shanghai")
    answer = as_operator.post("/tasks/daily/backfill", {"start": "2025-10-01", "end": "2025-10-10",
                                                        "order": "newest_first", "concurrency": "2"})
    backfill = Backfill.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/tasks/daily/executions?backfill={backfill.pk}"
    assert (backfill.slots, backfill.newest_first, backfill.concurrency) == (10, True, 2)
    html = as_operator.get(answer["Location"]).content.decode()
    assert f'id="backfill-{backfill.pk}" data-state="running"' in html
    assert html.count('class="small backfill-link"') == 10
    cancel = as_operator.post(f"/tasks/daily/backfills/{backfill.pk}/cancel")
    assert cancel.status_code == 302
    assert set(TaskExecution.objects.values_list("status", flat=True)) == {ExecutionStatus.STOPPED}
    html = as_operator.get("/tasks/daily/executions").content.decode()
    assert f'id="backfill-{backfill.pk}" data-state="cancelled"' in html


def test_a_bad_range_is_named_on_the_page(as_operator, make_task):
    make_task("daily", task_schedule="0 3 * * *")
    answer = as_operator.post("/tasks/daily/backfill", {"start": "2025-10-05", "end": "2025-10-01"}, follow=True)
    assert "is before start" in answer.content.decode()
    answer = as_operator.post("/tasks/daily/backfill", {"start": "someday", "end": "2025-10-01"}, follow=True)
    assert "someday" in answer.content.decode()
    assert not Backfill.objects.exists()


def test_a_viewer_sees_backfills_but_cannot_start_or_cancel_one(as_viewer, make_task):
    make_task("daily", task_schedule="0 3 * * *")
    assert as_viewer.post("/tasks/daily/backfill", {"start": "2025-10-01", "end": "2025-10-02"}).status_code == 403
    assert 'id="backfill-form"' not in as_viewer.get("/tasks/daily/executions").content.decode()


def test_a_backfill_cannot_be_cancelled_through_another_tasks_address(as_operator, make_task):
    make_task("daily", task_schedule="0 3 * * *")
    make_task("other", task_schedule="0 4 * * *")
    as_operator.post("/tasks/daily/backfill", {"start": "2025-10-01", "end": "2025-10-02"})
    backfill = Backfill.objects.get()
    assert as_operator.post(f"/tasks/other/backfills/{backfill.pk}/cancel").status_code == 404
    assert set(TaskExecution.objects.values_list("status", flat=True)) == {ExecutionStatus.QUEUED}


def test_a_range_ending_today_runs_the_slots_of_today_already_past(as_operator, make_task, time_machine):
    # The form gives days: "to today" means up to now, not an end in the future that the service refuses.
    from datetime import datetime, timezone

    time_machine.move_to(datetime(2025, 10, 3, 4, 0, tzinfo=timezone.utc), tick=False)  # 12:00 in Shanghai
    make_task("daily", task_schedule="0 3 * * *", task_timezone="Asia/Shanghai")
    answer = as_operator.post("/tasks/daily/backfill", {"start": "2025-10-01", "end": "2025-10-03"}, follow=True)
    assert "in the future" not in answer.content.decode()
    assert Backfill.objects.get().slots == 3
    tomorrow = as_operator.post("/tasks/daily/backfill", {"start": "2025-10-01", "end": "2025-10-04"}, follow=True)
    assert "in the future" in tomorrow.content.decode() and Backfill.objects.count() == 1
