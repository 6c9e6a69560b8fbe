"""The scheduler under pressure: a locked database (it waits, retries on the next tick and loses nothing) and
a burst of tasks due in the same minute (every slot ends in an execution record, none skipped)."""
import logging
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from tasks_app.models import ExecutionStatus, Task, TaskExecution, TaskStatus
from tasks_app.services.executions import run_now

from .conftest import wait_for

UTC = timezone.utc


@pytest.fixture
def engine_log():
    lines = []

    class Collector(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    handler = Collector(logging.DEBUG)
    logging.getLogger("SchedulerEngine").addHandler(handler)
    yield lines
    logging.getLogger("SchedulerEngine").removeHandler(handler)


def test_it_survives_a_locked_database_and_records_the_run_once_it_is_free(start_engine, make_task, engine_log):
    if connection.vendor != "sqlite":
        pytest.skip("an exclusive lock on the database file is a SQLite situation")
    task = make_task("patient", task_exec="sleep.py", task_env={"SLEEP": "1"})
    start_engine(db_busy_timeout=0.3)
    run = run_now(task, actor="alice", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status="running").exists(), 2)

    blocker = sqlite3.connect(connection.settings_dict["NAME"], timeout=5, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        # The run ends while the database is locked: the engine cannot write, says so, and keeps going.
        wait_for(lambda: any("Database trouble while recording ended runs" in line for line in engine_log), 10,
                 what="the engine to hit the lock")
        assert TaskExecution.objects.get(pk=run.pk).status == ExecutionStatus.RUNNING  # WAL: reads still work
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    done = wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status="success").first(), 3,
                    what="the end to be recorded")
    assert done.duration >= 1.0 and not TaskStatus.objects.get(task=task).running
    wait_for(lambda: any("Database available again" in line for line in engine_log), 2)
    again = run_now(task, actor="alice", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=again.pk, status="success").exists(), 5,
             what="the scheduler to carry on")


def due_together(count, time_machine, lead):
    """`count` tasks running ok.py every minute, the clock `lead` s before the next minute; returns it."""
    minute = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    time_machine.move_to(minute - timedelta(seconds=lead), tick=True)
    Task.objects.bulk_create([Task(task_id=f"burst-{n:03}", task_name="burst", task_exec="ok.py",
                                   task_schedule="* * * * *") for n in range(count)])
    TaskStatus.objects.bulk_create([TaskStatus(task=t) for t in Task.objects.all()])
    return minute


@pytest.mark.slow
def test_a_burst_of_tasks_due_in_the_same_minute_all_run_none_skipped(start_engine, engine_scripts, time_machine):
    count = 120
    minute = due_together(count, time_machine, lead=1.5)
    start_engine()

    def all_ended():
        ended = TaskExecution.objects.filter(scheduled_time=minute, status__in=ExecutionStatus.finished())
        return ended.count() == count

    wait_for(all_ended, 60, interval=0.2, what=f"{count} runs of the {minute:%H:%M} slot to end")
    runs = TaskExecution.objects.filter(scheduled_time=minute)
    assert runs.count() == count and set(runs.values_list("status", flat=True)) == {ExecutionStatus.SUCCESS}
    assert runs.values("task").distinct().count() == count
    claimed_by = max((r.start_time - minute).total_seconds() for r in runs.order_by("execution_id")[:8])
    assert claimed_by < 1.0, f"the first runs of the burst started {claimed_by:.3f} s after the minute"


def test_the_first_runs_of_a_burst_start_at_their_slot_while_later_ones_are_still_being_written(
        start_engine, engine_scripts, time_machine):
    import threading

    from django.db.backends.signals import connection_created

    count = 20
    minute = due_together(count, time_machine, lead=1.2)
    inserts = []

    def slow_after_the_first_batch(execute, sql, params, many, context):  # a busy machine or database
        if threading.current_thread().name == "engine-loop" and sql.startswith('INSERT INTO "tasks_app_taskexecution"'):
            inserts.append(sql)
            if len(inserts) > 1:
                time.sleep(0.5)
        return execute(sql, params, many, context)

    def watch(sender, connection, **kwargs):
        if slow_after_the_first_batch not in connection.execute_wrappers:  # the same wrapper object reconnects
            connection.execute_wrappers.append(slow_after_the_first_batch)

    connection_created.connect(watch)
    try:
        start_engine()
        wait_for(lambda: TaskExecution.objects.filter(scheduled_time=minute, status__in=ExecutionStatus.finished())
                 .count() == count, 10, interval=0.1, what="the burst to end")
    finally:
        connection_created.disconnect(watch)
    first = TaskExecution.objects.filter(scheduled_time=minute).order_by("execution_id")[:8]
    late = max((r.start_time - minute).total_seconds() for r in first)
    assert len(inserts) >= 2 and late < 0.3, f"the first runs of the burst started {late:.3f} s after the minute"


def test_it_survives_the_database_dropping_its_connections_and_renews_its_lease(start_engine, make_task,
                                                                              engine_log):
    if connection.vendor != "postgresql":
        pytest.skip("dropping server sessions is a PostgreSQL situation (SQLite has none)")
    from tasks_app.models import SchedulerLease

    task = make_task("steady", task_exec="ok.py")
    engine = start_engine()
    renewed = SchedulerLease.objects.current().renewed_at
    with connection.cursor() as cursor:  # what a database restart does to every other session
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    wait_for(lambda: SchedulerLease.objects.current().renewed_at > renewed, 10, what="the next renewal")
    lease = SchedulerLease.objects.current()
    assert lease.alive() and lease.holder == engine.worker
    run = run_now(task, actor="alice", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status="success").exists(), 5,
             what="the scheduler to carry on")


def test_each_run_costs_the_scheduler_at_most_two_commits(start_engine, make_task):
    if connection.vendor != "sqlite":
        pytest.skip("counted through SQLite's BEGIN statements")
    import threading

    from django.db.backends.signals import connection_created

    begins = []

    def count(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("BEGIN") and threading.current_thread().name == "engine-loop":
            begins.append(sql)
        return execute(sql, params, many, context)

    def watch(sender, connection, **kwargs):
        if count not in connection.execute_wrappers:  # a wrapper object reconnects after each close
            connection.execute_wrappers.append(count)

    connection_created.connect(watch)
    try:
        task = make_task("counted", task_exec="ok.py")
        start_engine(tick=0.1)  # polls are plain reads (no BEGIN); a short tick only makes the 10 runs quicker
        wait_for(lambda: TaskStatus.objects.filter(task=task).exists(), 1)
        before = len(begins)
        for _ in range(10):
            run = run_now(task, actor="alice", via="api")
            wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status="success").exists(), 5)
        wait_for(lambda: not TaskStatus.objects.get(task=task).running, 2)
        assert len(begins) - before <= 2 * 10, begins[before:]
    finally:
        connection_created.disconnect(watch)


def test_a_job_whose_fire_times_cannot_be_computed_does_not_hold_up_the_others(start_engine, make_task,
                                                                                time_machine):
    import pickle
    from types import SimpleNamespace

    from apscheduler.job import Job
    from django_apscheduler.models import DjangoJob

    from tasks_app.engine.jobs import TASK_JOB_FUNC
    from tasks_app.engine.trigger import CronSlotTrigger

    minute = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    time_machine.move_to(minute - timedelta(seconds=1.2), tick=True)
    # A job stored by an earlier scheduler for a zone this system no longer knows (a tzdata update), due first.
    make_task("lost-zone", task_schedule="* * * * *", task_timezone="Mars/Olympus")
    trigger = CronSlotTrigger("* * * * *", "UTC")
    trigger.timezone_name = "Mars/Olympus"
    stored = Job(SimpleNamespace(timezone=UTC), id="lost-zone", func=TASK_JOB_FUNC, trigger=trigger, executor="default", args=["lost-zone"],
                 kwargs={}, name="lost-zone", misfire_grace_time=None, coalesce=False, max_instances=1,
                 next_run_time=minute - timedelta(seconds=0.6))
    DjangoJob.objects.create(id="lost-zone", next_run_time=stored.next_run_time,
                             job_state=pickle.dumps(stored.__getstate__()))
    fine = make_task("fine", task_schedule="* * * * *")
    start_engine()

    run = wait_for(lambda: TaskExecution.objects.filter(task=fine, scheduled_time=minute).first(), 5,
                   what="the other task's slot")
    assert run.status != ExecutionStatus.SKIPPED
    assert not DjangoJob.objects.filter(id="lost-zone").exists()
