"""Backfills through the real engine and processes: one run per slot of the range, each told its slot in
TASK_SCHEDULED_TIME, let go a concurrency at a time in the order chosen, cancellable as a whole; and the same
variable on manual runs."""
import zoneinfo
from datetime import datetime, timedelta, timezone

import pytest
from django.utils import timezone as dj_timezone

from tasks_app.definition.loader import TaskValidationError
from tasks_app.engine.backfills import release_held_runs
from tasks_app.models import Backfill, ExecutionStatus, TaskExecution, Trigger
from tasks_app.models.backfill import BACKFILL_HELD
from tasks_app.services.backfills import cancel_backfill, start_backfill
from tasks_app.services.executions import run_now

from .conftest import wait_for

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def ended(task):
    return not TaskExecution.objects.filter(task=task, status__in=ExecutionStatus.active()).exists()


def test_a_backfill_over_ten_days_of_a_daily_task_gives_ten_runs_with_their_slot_in_task_scheduled_time(
        start_engine, make_task):
    task = make_task("daily", task_exec="scheduled_time.py", task_schedule="30 2 * * *",
                     task_timezone="Asia/Shanghai")
    end = dj_timezone.now()
    backfill = start_backfill(task, start=end - timedelta(days=10), end=end, concurrency=3, actor="alice",
                              via="cli")
    assert backfill.slots == 10
    start_engine()
    wait_for(lambda: ended(task), 60, what="the backfill's ten runs to end")
    runs = list(TaskExecution.objects.filter(backfill=backfill).order_by("scheduled_time"))
    assert [r.status for r in runs] == [ExecutionStatus.SUCCESS] * 10
    assert all(r.trigger == Trigger.BACKFILL for r in runs)
    told = [r.read_output().strip() for r in runs]
    expected = [r.scheduled_time.astimezone(SHANGHAI).isoformat() for r in runs]
    assert told == expected
    assert all(t.endswith("T02:30:00+08:00") for t in told)
    days = {datetime.fromisoformat(t).date() for t in told}
    assert len(days) == 10


def test_a_manual_run_is_told_the_time_it_was_asked_for(start_engine, make_task):
    task = make_task("by-hand", task_exec="scheduled_time.py", task_timezone="Asia/Shanghai")
    execution = run_now(task, actor="alice", via="cli")
    start_engine()
    wait_for(lambda: ended(task), 30, what="the manual run to end")
    execution.refresh_from_db()
    assert execution.read_output().strip() == execution.queued_at.astimezone(SHANGHAI).isoformat()


@pytest.mark.django_db
def test_the_engine_lets_a_backfills_runs_go_a_concurrency_at_a_time_in_the_order_chosen(make_task):
    task = make_task("daily", task_schedule="0 3 * * *", task_timezone="UTC")
    end = datetime(2025, 10, 10, 12, tzinfo=timezone.utc)
    backfill = start_backfill(task, start=end - timedelta(days=5), end=end, newest_first=True, concurrency=2,
                              actor="alice", via="cli")
    runs = TaskExecution.objects.filter(backfill=backfill).order_by("execution_id")
    assert [r.scheduled_time.day for r in runs] == [10, 9, 8, 7, 6]
    assert {r.worker for r in runs} == {BACKFILL_HELD}
    assert release_held_runs() == 2
    assert [r.scheduled_time.day for r in runs.filter(worker="")] == [10, 9]
    assert release_held_runs() == 0  # both let go, neither ended: no room
    TaskExecution.objects.filter(backfill=backfill, scheduled_time__day=10).update(
        status=ExecutionStatus.SUCCESS, worker="w")
    assert release_held_runs() == 1
    assert [r.scheduled_time.day for r in runs.filter(worker="")] == [9, 8]


@pytest.mark.django_db
def test_slots_that_already_succeeded_are_left_out_unless_asked(make_task):
    task = make_task("daily", task_schedule="0 3 * * *", task_timezone="UTC")
    end = datetime(2025, 10, 10, 12, tzinfo=timezone.utc)
    TaskExecution.objects.create(task=task, status=ExecutionStatus.SUCCESS, trigger=Trigger.SCHEDULE,
                                 scheduled_time=datetime(2025, 10, 8, 3, tzinfo=timezone.utc))
    first = start_backfill(task, start=end - timedelta(days=3), end=end, actor="alice", via="cli")
    assert (first.slots, first.skipped_slots) == (2, 1)
    cancel_backfill(first, actor="alice", via="cli")  # else its two queued slots are left out as well
    again = start_backfill(task, start=end - timedelta(days=3), end=end, rerun_succeeded=True, actor="a", via="cli")
    assert (again.slots, again.skipped_slots) == (3, 0)


@pytest.mark.django_db
def test_a_backfill_respects_the_tasks_calendar(make_task):
    task = make_task("report", task_schedule="0 9 * * *", task_timezone="Asia/Shanghai", task_calendar="cn-workdays")
    backfill = start_backfill(task, start=datetime(2025, 9, 30, 12, tzinfo=timezone.utc),
                              end=datetime(2025, 10, 12, 12, tzinfo=timezone.utc), actor="alice", via="cli")
    days = sorted(r.scheduled_time.astimezone(SHANGHAI).day
                  for r in TaskExecution.objects.filter(backfill=backfill))
    assert days == [9, 10, 11]


@pytest.mark.django_db
def test_a_cancel_stops_every_run_of_the_backfill_not_ended(make_task):
    task = make_task("daily", task_schedule="0 3 * * *", task_timezone="UTC")
    end = datetime(2025, 10, 10, 12, tzinfo=timezone.utc)
    backfill = start_backfill(task, start=end - timedelta(days=4), end=end, actor="alice", via="cli")
    release_held_runs()
    TaskExecution.objects.filter(backfill=backfill, worker="").update(status=ExecutionStatus.RUNNING, worker="w")
    result = cancel_backfill(backfill, actor="bob", via="cli")
    assert result["cancelled"] == 3 and len(result["stopping"]) == 1
    assert TaskExecution.objects.get(pk=result["stopping"][0]).stop_requested_by == "bob"
    backfill.refresh_from_db()
    assert backfill.cancelled_by == "bob" and backfill.state == "running"  # until the running one ends
    assert release_held_runs() == 0


@pytest.mark.django_db
def test_bad_backfills_are_refused_naming_the_field_and_the_value(make_task):
    task = make_task("daily", task_schedule="0 3 * * *", task_timezone="UTC")
    chain = make_task("chain")
    now = dj_timezone.now()
    with pytest.raises(TaskValidationError) as refused:
        start_backfill(task, start=now, end=now - timedelta(days=1), concurrency=0, actor="a", via="cli")
    assert set(refused.value.errors) == {"end", "concurrency"}
    with pytest.raises(TaskValidationError) as refused:
        start_backfill(task, start=now - timedelta(days=1), end=now + timedelta(days=1), actor="a", via="cli")
    assert "in the future" in refused.value.errors["end"][0]
    with pytest.raises(TaskValidationError) as refused:
        start_backfill(chain, start=now - timedelta(days=1), end=now, actor="a", via="cli")
    assert "no schedule" in refused.value.errors["task_id"][0]
    minutely = make_task("minutely", task_schedule="* * * * *")
    with pytest.raises(TaskValidationError) as refused:
        start_backfill(minutely, start=now - timedelta(days=2), end=now, actor="a", via="cli")
    assert "more than 1000 slots" in refused.value.errors["end"][0]
    assert not Backfill.objects.exists()


def test_a_failed_backfill_run_is_retried_inside_its_backfill(start_engine, make_task):
    task = make_task("flaky", task_exec="fail.py", task_schedule="0 3 * * *", task_timezone="UTC", task_retry=1,
                     task_retry_interval=0)
    end = dj_timezone.now()
    backfill = start_backfill(task, start=end - timedelta(days=2), end=end, actor="alice", via="cli")
    start_engine()
    wait_for(lambda: TaskExecution.objects.filter(backfill=backfill, status=ExecutionStatus.FAILED).count() == 4
             and ended(task), 60, what="both slots to fail twice")
    retries = TaskExecution.objects.filter(backfill=backfill, trigger=Trigger.RETRY)
    assert retries.count() == 2
    assert {r.scheduled_time for r in retries} == set(
        TaskExecution.objects.filter(backfill=backfill, trigger=Trigger.BACKFILL).values_list("scheduled_time",
                                                                                                flat=True))


def test_a_scheduled_run_is_told_its_slot_and_a_slot_on_a_day_its_calendar_excludes_is_skipped(
        start_engine, make_task, time_machine):
    minute = (datetime.now(timezone.utc) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    time_machine.move_to(minute - timedelta(seconds=0.6), tick=True)
    on_time = make_task("on-time", task_exec="scheduled_time.py", task_schedule="* * * * *",
                        task_timezone="Asia/Shanghai")
    from tasks_app.models import Calendar

    Calendar.objects.create(name="never-today", removed_dates=[minute.astimezone(SHANGHAI).date().isoformat()])
    off = make_task("day-off", task_exec="scheduled_time.py", task_schedule="* * * * *",
                    task_timezone="Asia/Shanghai", task_calendar="never-today")
    start_engine()
    run = wait_for(lambda: TaskExecution.objects.filter(task=on_time, scheduled_time=minute,
                                                        status=ExecutionStatus.SUCCESS).first(), 30,
                   what="the scheduled run to end")
    assert run.read_output().strip() == minute.astimezone(SHANGHAI).isoformat()
    skipped = wait_for(lambda: TaskExecution.objects.filter(task=off, scheduled_time=minute).first(), 10,
                       what="the day-off slot to be recorded")
    assert skipped.status == ExecutionStatus.SKIPPED
    assert skipped.error_message.startswith("not a working day in never-today (")
    off.refresh_from_db()
    assert off.status.next_run_time.astimezone(SHANGHAI).date() > minute.astimezone(SHANGHAI).date()


def test_a_scheduled_run_due_during_a_large_backfill_starts_on_time(start_engine, make_task, time_machine):
    from tasks_app.engine.executor import LocalExecutor

    history = make_task("history", task_exec="sleep.py", task_schedule="0 3 * * *", task_timezone="UTC",
                        task_env={"SLEEP": "30"})
    on_time = make_task("on-time", task_schedule="* * * * *", task_timezone="UTC")
    end = dj_timezone.now()
    backfill = start_backfill(history, start=end - timedelta(days=20), end=end, concurrency=5, actor="alice",
                              via="cli")
    minute = (datetime.now(timezone.utc) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    time_machine.move_to(minute - timedelta(seconds=4), tick=True)
    start_engine(executor=LocalExecutor(max_workers=2), tick=0.1)
    wait_for(lambda: TaskExecution.objects.filter(backfill=backfill, status=ExecutionStatus.RUNNING).count() >= 2,
             10, what="the backfill to take the pool")

    run = wait_for(lambda: TaskExecution.objects.filter(task=on_time, scheduled_time=minute,
                                                        status=ExecutionStatus.SUCCESS).first(), 15,
                   what="the scheduled run to end while the backfill's 30-second runs still run")
    assert (run.start_time - minute).total_seconds() < 2, run.start_time
    # The backfill goes on, on the other worker: one of its runs still runs (none has ended yet).
    assert TaskExecution.objects.filter(backfill=backfill, status=ExecutionStatus.RUNNING).exists()
    assert not TaskExecution.objects.filter(backfill=backfill, status__in=ExecutionStatus.finished()).exists()
