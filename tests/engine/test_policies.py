"""What the scheduler does when things are not simple: overlapping runs, dependencies and chains, slots
missed while it was down. In-process engine, real processes; cron slots are reached with time-machine."""
from datetime import datetime, timedelta, timezone

import pytest
from django.core import mail

from tasks_app.models import ExecutionStatus, Task, TaskExecution
from tasks_app.services.executions import run_now

from .conftest import previous_leader, wait_for

UTC = timezone.utc


@pytest.fixture
def next_minute(time_machine):
    """Move the clock (all threads, ticking) to 0.6 s before a minute; returns that minute (aware UTC)."""

    def travel(lead=0.6):
        minute = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
        time_machine.move_to(minute - timedelta(seconds=lead), tick=True)
        return minute

    return travel


def runs_of(task, **filters):
    return list(TaskExecution.objects.filter(task=task, **filters).order_by("execution_id"))


def finished(execution_id):
    return TaskExecution.objects.filter(pk=execution_id).exclude(status__in=ExecutionStatus.active()).first()


def running(execution_id):
    return TaskExecution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING).first()


def test_overlap_skip_records_a_skipped_run_saying_why(start_engine, make_task):
    task = make_task("busy", task_exec="sleep.py", task_env={"SLEEP": "30"}, task_overlap="skip")
    start_engine()
    first = run_now(task, actor="alice", via="api")
    wait_for(lambda: running(first.pk), 2)
    second = run_now(task, actor="alice", via="api")
    skipped = wait_for(lambda: finished(second.pk), 2, what="the second run to be decided")
    assert skipped.status == ExecutionStatus.SKIPPED
    assert skipped.error_message == f"execution {first.pk} of this task is still running (task_overlap: skip)"
    assert skipped.duration == 0.0 and skipped.start_time and skipped.end_time
    assert running(first.pk)


def test_overlap_queue_runs_one_waiting_run_after_the_current_one(start_engine, make_task):
    task = make_task("queued", task_exec="sleep.py", task_env={"SLEEP": "1"}, task_overlap="queue")
    start_engine(tick=0.1)
    first = run_now(task, actor="alice", via="api")
    wait_for(lambda: running(first.pk), 2)
    second = run_now(task, actor="alice", via="api")
    third = run_now(task, actor="alice", via="api")
    assert wait_for(lambda: finished(third.pk), 2).error_message.startswith("a run is already waiting")
    waiting = TaskExecution.objects.get(pk=second.pk)
    assert waiting.status == ExecutionStatus.QUEUED and waiting.worker, "held by the scheduler, not claimable"

    done_first = wait_for(lambda: finished(first.pk), 5)
    done_second = wait_for(lambda: finished(second.pk), 6)
    assert done_first.status == done_second.status == ExecutionStatus.SUCCESS
    assert done_second.start_time >= done_first.end_time


def test_a_run_waiting_behind_one_that_ends_during_shutdown_is_recorded_as_never_started(start_engine, make_task):
    task = make_task("queued", task_exec="sleep.py", task_env={"SLEEP": "1"}, task_overlap="queue")
    engine = start_engine(tick=0.1, stop_grace=5)
    first = run_now(task, actor="alice", via="api")
    wait_for(lambda: running(first.pk), 2)
    second = run_now(task, actor="alice", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=second.pk).exclude(worker="").exists(), 2, what="the wait")

    engine.request_stop()  # SIGTERM: the running one may finish within the grace; nothing new starts
    assert wait_for(lambda: finished(first.pk), 5).status == ExecutionStatus.SUCCESS
    never = wait_for(lambda: finished(second.pk), 5)
    assert never.status == ExecutionStatus.STOPPED and never.pid is None
    assert never.error_message == "stopped: the scheduler shut down before this queued run started"


def test_overlap_replace_stops_the_running_one_and_starts_the_new_one_once_it_has_ended(start_engine, make_task):
    task = make_task("fresh", task_exec="sleep.py", task_env={"SLEEP": "30"}, task_overlap="replace")
    start_engine()
    first = run_now(task, actor="alice", via="api")
    wait_for(lambda: running(first.pk), 2)
    second = run_now(task, actor="alice", via="api")
    old = wait_for(lambda: finished(first.pk), 3, what="the old run to be stopped")
    assert old.status == ExecutionStatus.STOPPED and old.stop_requested_by == "scheduler"
    assert "replaced by a newer run" in old.error_message
    new = wait_for(lambda: running(second.pk), 2, what="the new run to start")
    # Two runs of a task that asks for "replace" never overlap.
    assert new.start_time >= old.end_time


def test_overlap_replace_lets_the_newest_of_two_waiting_runs_win(start_engine, make_task):
    task = make_task("fresh", task_exec="stubborn.py", task_overlap="replace")  # takes the kill grace to stop
    start_engine(tick=0.1)
    first = run_now(task, actor="alice", via="api")
    started = wait_for(lambda: running(first.pk), 2)
    # "running" is written at the spawn: a stop before the script ignores SIGTERM would end it at once.
    wait_for(lambda: "ignoring SIGTERM" in started.output_path.read_text(errors="replace")
             if started.output_path.exists() else False, 5, what="the script to ignore SIGTERM")
    second = run_now(task, actor="alice", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=second.pk).exclude(worker="").exists(), 2, what="the wait")
    third = run_now(task, actor="bob", via="api")

    superseded = wait_for(lambda: finished(second.pk), 2, what="the second run to be superseded")
    assert superseded.status == ExecutionStatus.SKIPPED
    assert superseded.error_message == "replaced by a newer run before it started (task_overlap: replace)"
    old = wait_for(lambda: finished(first.pk), 3, what="the first run to be killed")
    assert old.status == ExecutionStatus.STOPPED and old.return_code == -9
    assert wait_for(lambda: running(third.pk), 2).start_time >= old.end_time


def test_a_scheduled_task_whose_dependency_failed_is_skipped_and_on_failure_is_told(
        start_engine, make_task, next_minute):
    upstream = make_task("extract", task_exec="fail.py")
    start_engine(tick=0.1)
    failed = run_now(upstream, actor="alice", via="api")
    wait_for(lambda: finished(failed.pk), 10)

    minute = next_minute()
    downstream = make_task("load", task_exec="ok.py", task_schedule="* * * * *", task_dependencies=["extract"],
                           task_notify={"on_failure": True, "email": "ops@example.com"})
    skipped = wait_for(lambda: runs_of(downstream), 5, what="the scheduled fire")[0]
    assert skipped.status == ExecutionStatus.SKIPPED and skipped.scheduled_time == minute
    assert skipped.error_message == "dependency extract did not succeed (its latest run ended failed)"
    wait_for(lambda: mail.outbox, 5, what="the on_failure notice")
    assert "load" in mail.outbox[0].subject


def test_a_scheduled_task_runs_when_its_dependencies_succeeded(start_engine, make_task, next_minute):
    upstream = make_task("extract", task_exec="ok.py")
    start_engine(tick=0.1)
    done = run_now(upstream, actor="alice", via="api")
    wait_for(lambda: finished(done.pk), 10)
    minute = next_minute()
    downstream = make_task("load", task_exec="ok.py", task_schedule="* * * * *", task_dependencies=["extract"])
    run = wait_for(lambda: runs_of(downstream), 5)[0]
    assert run.scheduled_time == minute and run.status != ExecutionStatus.SKIPPED


def test_a_scheduled_task_is_skipped_while_an_older_run_of_its_dependency_still_runs(start_engine, make_task,
                                                                                     next_minute):
    upstream = make_task("extract", task_exec="sleep.py", task_env={"SLEEP": "30"}, task_overlap="allow")
    start_engine(tick=0.1)
    old = run_now(upstream, actor="alice", via="api")
    wait_for(lambda: running(old.pk), 2)
    Task.objects.filter(pk=upstream.pk).update(task_env={"SLEEP": "0"})
    quick = run_now(upstream, actor="alice", via="api")
    assert wait_for(lambda: finished(quick.pk), 5).status == ExecutionStatus.SUCCESS  # the latest run succeeded

    minute = next_minute()
    downstream = make_task("load", task_exec="ok.py", task_schedule="* * * * *", task_dependencies=["extract"])
    skipped = wait_for(lambda: runs_of(downstream), 5, what="the scheduled fire")[0]
    assert skipped.scheduled_time == minute and skipped.status == ExecutionStatus.SKIPPED
    assert skipped.error_message == "dependency extract is still running"


def test_a_chain_task_runs_each_time_its_dependencies_have_all_succeeded(start_engine, make_task):
    first = make_task("first", task_exec="ok.py")
    second = make_task("second", task_exec="ok.py")
    chain = make_task("after-both", task_exec="ok.py", task_dependencies=["first", "second"])
    start_engine(tick=0.1)

    def run_to_end(task):
        execution = run_now(task, actor="a", via="api")
        return wait_for(lambda: finished(execution.pk), 10, what=f"{task.task_id} to end")

    run_to_end(first)
    run_to_end(first)
    assert runs_of(chain) == [], "only one of two has succeeded: the chain waits"

    run_to_end(second)
    run = wait_for(lambda: runs_of(chain), 3, what="the chain to start")[0]
    assert run.trigger == "dependency" and run.requested_by == "dependency second"
    assert wait_for(lambda: finished(run.pk), 10).status == ExecutionStatus.SUCCESS

    run_to_end(second)
    assert len(runs_of(chain)) == 1, "first has not succeeded again since the chain ran"
    run_to_end(first)
    wait_for(lambda: len(runs_of(chain)) == 2, 3, what="the second chain run")


def test_after_downtime_only_the_latest_slot_runs_and_one_record_says_what_was_missed(
        start_engine, make_task, time_machine, settings):
    settings.TIME_ZONE = "UTC"
    now = datetime(2031, 3, 4, 10, 20, 0, tzinfo=UTC)
    time_machine.move_to(now, tick=True)
    minutely = make_task("minutely", task_schedule="* * * * *", task_misfire_grace=120)
    hourly = make_task("hourly", task_schedule="0 * * * *", task_misfire_grace=60)
    Task.objects.update(updated_at=datetime(2031, 3, 4, 7, 0, tzinfo=UTC))
    # The previous scheduler was last seen at 07:05:30.
    previous_leader("old-host:1", last_seen=datetime(2031, 3, 4, 7, 5, 30, tzinfo=UTC))
    time_machine.move_to(now + timedelta(seconds=0.5), tick=True)

    start_engine()
    skipped, ran = wait_for(lambda: len(runs_of(minutely)) == 2 and runs_of(minutely), 5)
    assert ran.scheduled_time == now and ran.trigger == "schedule"
    assert wait_for(lambda: finished(ran.pk), 10).status == ExecutionStatus.SUCCESS
    # 07:06 .. 10:19 is 194 slots; the record carries the last of them, so a later start does not count them again.
    assert skipped.status == ExecutionStatus.SKIPPED and skipped.scheduled_time == now - timedelta(minutes=1)
    assert skipped.error_message == (
        "missed 194 scheduled run(s) between 2031-03-04 07:06 UTC and 2031-03-04 10:19 UTC while the "
        "scheduler was not running; only the latest slot runs")

    (only,) = wait_for(lambda: runs_of(hourly), 5)
    assert only.status == ExecutionStatus.SKIPPED and only.scheduled_time == now.replace(minute=0)
    assert only.error_message == (
        "missed 3 scheduled run(s) between 2031-03-04 08:00 UTC and 2031-03-04 10:00 UTC while the "
        "scheduler was not running; the latest was more than task_misfire_grace (60 s) ago")


def test_after_the_clock_leaps_two_years_the_missed_slots_are_counted_not_listed(start_engine, make_task,
                                                                                  time_machine, settings):
    settings.TIME_ZONE = "UTC"
    minute = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    time_machine.move_to(minute - timedelta(seconds=5), tick=True)
    task = make_task("minutely", task_schedule="* * * * *")
    start_engine()
    # A machine suspended for two years (or a clock set far ahead): about a million minutes are due at once.
    later = minute + timedelta(days=730)
    time_machine.move_to(later + timedelta(seconds=0.5), tick=True)

    skipped, ran = wait_for(lambda: len(runs_of(task)) == 2 and runs_of(task), 3, what="the leap to be handled")
    assert ran.scheduled_time == later and ran.status != ExecutionStatus.SKIPPED
    assert skipped.status == ExecutionStatus.SKIPPED and skipped.scheduled_time == later - timedelta(minutes=1)
    assert skipped.error_message.startswith(
        f"missed {730 * 24 * 60} scheduled run(s) between {minute:%Y-%m-%d %H:%M} UTC and "
        f"{later - timedelta(minutes=1):%Y-%m-%d %H:%M} UTC")


def test_a_run_claimed_just_before_its_slot_starts_at_once_if_the_clock_is_then_set_back(start_engine, make_task,
                                                                                         time_machine):
    minute = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    time_machine.move_to(minute - timedelta(seconds=3), tick=True)
    task = make_task("minutely", task_schedule="* * * * *")
    start_engine()
    # The clock stands still a moment before the slot: the run is claimed and waits for the slot.
    time_machine.move_to(minute - timedelta(seconds=0.05), tick=False)
    (claimed,) = wait_for(lambda: runs_of(task, status=ExecutionStatus.RUNNING), 3, what="the claim")
    # Then it is set back an hour (a wrong clock corrected): the claimed run does not wait for that hour.
    time_machine.move_to(minute - timedelta(hours=1), tick=True)
    done = wait_for(lambda: finished(claimed.pk), 5, what="the claimed run to start and end")
    assert done.status == ExecutionStatus.SUCCESS and done.scheduled_time == minute


def test_slots_a_scheduler_could_not_claim_before_it_died_are_counted_from_its_job_store(
        start_engine, make_task, time_machine, settings):
    from tasks_app.engine.scheduler import SchedulerEngine

    settings.TIME_ZONE = "UTC"
    time_machine.move_to(datetime(2031, 3, 4, 7, 0, 30, tzinfo=UTC), tick=True)
    task = make_task("minutely", task_schedule="* * * * *", task_misfire_grace=120)
    Task.objects.update(updated_at=datetime(2031, 3, 4, 6, 0, tzinfo=UTC))
    first = SchedulerEngine(stop_grace=0)
    first.start()  # its job store now waits for the 07:01 slot
    first.request_stop()
    first.run()
    # It went on renewing its lease until 07:10:30 while its database refused every claim (locked), then died.
    previous_leader("old-host:1", last_seen=datetime(2031, 3, 4, 7, 10, 30, tzinfo=UTC))
    time_machine.move_to(datetime(2031, 3, 4, 7, 20, 0, 500000, tzinfo=UTC), tick=True)

    start_engine()
    skipped, ran = wait_for(lambda: len(runs_of(task)) == 2 and runs_of(task), 5)
    assert ran.scheduled_time == datetime(2031, 3, 4, 7, 20, tzinfo=UTC)
    assert skipped.error_message == (
        "missed 19 scheduled run(s) between 2031-03-04 07:01 UTC and 2031-03-04 07:19 UTC while the "
        "scheduler was not running; only the latest slot runs")


def test_a_run_waiting_behind_the_current_one_starts_with_the_task_as_edited_meanwhile(start_engine, make_task,
                                                                                      tmp_path):
    task = make_task("edited", task_exec="sleep.py", task_env={"SLEEP": "1"}, task_overlap="queue")
    start_engine(tick=0.1)
    first = run_now(task, actor="alice", via="api")
    wait_for(lambda: running(first.pk), 2)
    second = run_now(task, actor="alice", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=second.pk).exclude(worker="").exists(), 2, what="the wait")
    env_file = tmp_path / "env.txt"
    Task.objects.filter(pk=task.pk).update(task_exec="env_dump.py", task_env={"ENV_FILE": str(env_file), "MARK": "new"})

    assert wait_for(lambda: finished(second.pk), 5).status == ExecutionStatus.SUCCESS
    assert "MARK=new" in env_file.read_text()


def test_a_scheduled_run_waiting_behind_the_current_one_is_skipped_if_the_task_is_disabled_meanwhile(
        start_engine, make_task, next_minute):
    minute = next_minute(lead=1)
    task = make_task("nightly", task_exec="sleep.py", task_env={"SLEEP": "1.5"}, task_schedule="* * * * *",
                     task_overlap="queue")
    start_engine(tick=0.1)
    first = run_now(task, actor="alice", via="api")
    wait_for(lambda: running(first.pk), 2)
    (waiting,) = wait_for(lambda: runs_of(task, scheduled_time=minute), 3, what="the slot to wait")
    assert waiting.status == ExecutionStatus.QUEUED
    Task.objects.filter(pk=task.pk).update(task_enabled=False)

    skipped = wait_for(lambda: finished(waiting.pk), 5, what="the waiting run to be decided")
    assert skipped.status == ExecutionStatus.SKIPPED
    assert skipped.error_message == "the task was disabled while this run waited (task_overlap: queue)"
    assert skipped.end_time and skipped.duration == 0.0
