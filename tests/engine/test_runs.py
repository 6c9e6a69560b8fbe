"""Runs through the engine, driven in-process with the real LocalExecutor and real task processes:
run now, timeout, retries and the failure e-mail, stop, secrets, and what TaskStatus says."""
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from tasks_app.engine.procgroup import group_alive
from tasks_app.models import ExecutionStatus, Task, TaskExecution, TaskStatus
from tasks_app.services.executions import NothingRunning, run_now, stop_task

from .conftest import journal_pid, process_alive, wait_for


def ended(execution_id):
    execution = TaskExecution.objects.get(pk=execution_id)
    return execution if execution.status not in ExecutionStatus.active() else None


def test_run_now_starts_within_a_second_and_records_the_run(start_engine, make_task):
    task = make_task("quick", task_exec="ok.py")
    start_engine()
    queued = run_now(task, actor="alice", via="api")
    assert queued.status == ExecutionStatus.QUEUED and queued.worker == ""

    running = wait_for(lambda: TaskExecution.objects.exclude(status="queued").filter(pk=queued.pk).first(), 2,
                       what="the claim")
    assert (running.start_time - running.queued_at).total_seconds() < 1.0
    done = wait_for(lambda: ended(queued.pk), 10, what="the end")
    assert done.status == ExecutionStatus.SUCCESS and done.return_code == 0 and done.error_message == ""
    assert done.trigger == "manual" and done.requested_by == "alice" and done.worker
    assert done.duration is not None and done.end_time >= done.start_time and done.pid
    assert f"ok quick {done.pk}" in Path(done.output_path).read_text()

    status = TaskStatus.objects.get(task=task)
    assert (status.running, status.last_execution_id, status.last_status) == (False, done.pk, "success")
    assert (status.last_start_time, status.last_end_time) == (done.start_time, done.end_time)


def test_a_timeout_ends_the_run_and_leaves_no_process_of_its_group(start_engine, make_task, tmp_path):
    pids_file = tmp_path / "pids"
    task = make_task("slow-family", task_exec="family.py", task_timeout=3,
                     task_env={"PIDS_FILE": str(pids_file), "SLEEP": "600"})
    start_engine()
    execution = run_now(task, actor="alice", via="web")
    child, grandchild = map(int, wait_for(lambda: pids_file.exists() and pids_file.read_text().split(), 10,
                                          what="the family to start"))
    assert process_alive(grandchild)

    done = wait_for(lambda: ended(execution.pk), 3 + settings.SCHEDULER_KILL_GRACE + 3, what="the timeout")
    assert done.status == ExecutionStatus.TIMEOUT
    assert "timed out after 3 s" in done.error_message and done.return_code in (-15, -9)
    assert 3.0 <= done.duration <= 3 + settings.SCHEDULER_KILL_GRACE + 1
    assert not group_alive(child, ignore_zombies=True)
    assert not process_alive(child) and not process_alive(grandchild)


def test_a_failing_run_is_retried_a_second_apart_and_one_failure_email_goes_out(start_engine, make_task):
    task = make_task("flaky", task_exec="fail.py", task_retry=2, task_retry_interval=1,
                     task_notify={"on_failure": True, "on_success": False, "email": "ops@example.com"})
    start_engine()
    first = run_now(task, actor="alice", via="api")

    def three_ended():
        runs = list(TaskExecution.objects.filter(task=task).order_by("execution_id"))
        return runs if len(runs) == 3 and all(r.status == ExecutionStatus.FAILED for r in runs) else None

    runs = wait_for(three_ended, 15, what="three failed attempts")
    assert [r.attempt for r in runs] == [1, 2, 3]
    assert [r.trigger for r in runs] == ["manual", "retry", "retry"]
    assert runs[0].pk == first.pk and all(r.return_code == 1 and r.error_message == "exit code 1" for r in runs)
    for before, after in zip(runs, runs[1:]):
        gap = (after.start_time - before.end_time).total_seconds()
        assert 0.9 <= gap <= 1.9, f"retry started {gap:.2f} s after the previous attempt ended"
    wait_for(lambda: len(mail.outbox) >= 1, 5, what="the failure e-mail")
    # No e-mail per attempt: give a stray one time to show up before counting.
    wait_for(lambda: TaskStatus.objects.get(task=task).last_execution_id == runs[2].pk, 5)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"] and "flaky" in mail.outbox[0].subject


def test_a_disabled_tasks_run_that_a_user_asked_for_gets_all_its_attempts(start_engine, make_task):
    task = make_task("by-hand", task_exec="fail.py", task_enabled=False, task_retry=2, task_retry_interval=0)
    start_engine()
    run_now(task, actor="alice", via="api")

    def three_ended():
        runs = TaskExecution.objects.filter(task=task, status=ExecutionStatus.FAILED)
        return runs.count() == 3 and list(runs.order_by("execution_id"))

    assert [r.attempt for r in wait_for(three_ended, 10, what="three attempts")] == [1, 2, 3]


def test_a_run_is_retried_by_the_tasks_settings_when_it_ends_not_when_it_started(start_engine, make_task):
    task = make_task("edited", task_exec="sleep.py", task_env={"SLEEP": "1", "EXIT": "1"}, task_retry=3,
                     task_retry_interval=0)
    start_engine()
    run = run_now(task, actor="alice", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status="running").exists(), 2)
    Task.objects.filter(pk=task.pk).update(task_retry=0)  # edited while the run is in flight

    assert wait_for(lambda: ended(run.pk), 5).status == ExecutionStatus.FAILED
    assert TaskExecution.objects.filter(task=task).count() == 1, "task_retry is 0 now: no retry"


def pending_retry(task, *, requested_by, slot=None, not_before=None):
    """A failed first attempt and its queued retry, as a scheduler that has since stopped left them."""
    now = timezone.now()
    failed = TaskExecution.objects.create(
        task=task, status=ExecutionStatus.FAILED, trigger="schedule" if slot else "manual", scheduled_time=slot,
        requested_by=requested_by, worker="old-host:1", start_time=now, end_time=now, duration=0.1, return_code=1,
        error_message="exit code 1")
    retry = TaskExecution.objects.create(
        task=task, status=ExecutionStatus.QUEUED, trigger="retry", scheduled_time=slot, attempt=2,
        requested_by=requested_by, not_before=not_before or now, worker="")
    return failed, retry


def test_a_pending_retry_of_a_scheduled_run_does_not_run_once_its_task_is_disabled(start_engine, make_task):
    task = make_task("nightly", task_exec="ok.py", task_enabled=False, task_retry=2,
                     task_notify={"on_failure": True, "email": "ops@example.com"})
    failed, retry = pending_retry(task, requested_by="scheduler", slot=timezone.now().replace(microsecond=0))
    start_engine()

    skipped = wait_for(lambda: ended(retry.pk), 2, what="the retry to be decided")
    assert skipped.status == ExecutionStatus.SKIPPED
    assert skipped.error_message == "not tried again: the task was disabled after the failed attempt"
    # The failure notice waited for the last attempt: this was it.
    wait_for(lambda: mail.outbox, 5, what="the failure notice")
    assert mail.outbox[0].subject == "[scheduler] nightly: failed" and f"Execution: {failed.pk}" in mail.outbox[0].body


def test_a_retry_skipped_because_the_task_is_busy_sends_the_failure_notice(start_engine, make_task):
    task = make_task("busy-retry", task_exec="sleep.py", task_env={"SLEEP": "30"}, task_retry=1,
                     task_overlap="skip", task_notify={"on_failure": True, "email": "ops@example.com"})
    failed, retry = pending_retry(task, requested_by="alice", not_before=timezone.now() + timedelta(seconds=1))
    start_engine()
    busy = run_now(task, actor="bob", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=busy.pk, status="running").exists(), 2)

    skipped = wait_for(lambda: ended(retry.pk), 3, what="the retry to be decided")
    assert skipped.status == ExecutionStatus.SKIPPED and "still running" in skipped.error_message
    wait_for(lambda: mail.outbox, 5, what="the failure notice")
    assert mail.outbox[0].subject == "[scheduler] busy-retry: failed" and f"Execution: {failed.pk}" in mail.outbox[0].body


def test_stop_ends_a_running_execution_within_two_seconds_and_cancels_its_retry(start_engine, make_task):
    task = make_task("long", task_exec="sleep.py", task_env={"SLEEP": "60"}, task_retry=3, task_retry_interval=1)
    start_engine()
    execution = run_now(task, actor="alice", via="web")
    wait_for(lambda: TaskExecution.objects.filter(pk=execution.pk, status="running").exists(), 2)
    wait_for(lambda: journal_pid(execution.pk), 5, what="the child to start")

    asked = stop_task(task, actor="bob", via="api")
    assert [e.pk for e in asked] == [execution.pk]
    done = wait_for(lambda: ended(execution.pk), 2.5, what="the stop")
    assert done.status == ExecutionStatus.STOPPED and done.stop_requested_by == "bob"
    assert "bob" in done.error_message
    assert TaskExecution.objects.filter(task=task).count() == 1, "a stopped run is not retried"
    assert not TaskStatus.objects.get(task=task).running


def test_a_stop_asked_for_while_the_scheduler_shuts_down_does_not_wait_for_the_grace(start_engine, make_task):
    task = make_task("long", task_exec="sleep.py", task_env={"SLEEP": "60"})
    engine = start_engine(stop_grace=10)
    execution = run_now(task, actor="alice", via="web")
    wait_for(lambda: journal_pid(execution.pk), 5, what="the child to start")

    engine.request_stop()  # what SIGTERM does: running executions get stop_grace seconds to finish
    asked = time.monotonic()
    stop_task(task, actor="bob", via="api")
    done = wait_for(lambda: ended(execution.pk), 5, what="the stop")
    assert time.monotonic() - asked < 3
    assert done.status == ExecutionStatus.STOPPED and done.error_message == "stopped: requested by bob"


def test_stop_with_nothing_running_says_so(make_task):
    task = make_task("idle")
    try:
        stop_task(task, actor="bob", via="api")
    except NothingRunning as exc:
        assert "idle" in str(exc)
    else:
        raise AssertionError("NothingRunning expected")


def test_stop_cancels_a_queued_run_before_the_scheduler_claims_it(make_task):
    task = make_task("later")
    queued = run_now(task, actor="alice", via="web")
    stop_task(task, actor="bob", via="web")
    queued.refresh_from_db()
    assert queued.status == ExecutionStatus.STOPPED and queued.end_time and queued.duration == 0.0
    assert queued.error_message == "stopped by bob before it started"


def test_a_child_process_sees_none_of_the_engines_secrets(start_engine, make_task, tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgres://user:hunter2@db.example.com/prod")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", "mail-secret")
    env_file = tmp_path / "env.txt"
    task = make_task("peek", task_exec="env_dump.py", task_env={"ENV_FILE": str(env_file), "PARAM1": "值1"})
    start_engine()
    execution = run_now(task, actor="alice", via="api")
    assert wait_for(lambda: ended(execution.pk), 10).status == ExecutionStatus.SUCCESS

    seen = dict(line.split("=", 1) for line in env_file.read_text(encoding="utf-8").splitlines() if "=" in line)
    assert seen["PARAM1"] == "值1" and seen["TASK_ID"] == "peek" and seen["TASK_EXECUTION_ID"] == str(execution.pk)
    for name in ("DJANGO_SECRET_KEY", "DATABASE_URL", "EMAIL_HOST_PASSWORD", "CONF_DIR", "LOGS_DIR"):
        assert name not in seen
    text = env_file.read_text(encoding="utf-8")
    for secret in ("s" * 40, "hunter2", "mail-secret", settings.SECRET_KEY):
        assert secret not in text
    assert os.environ["DJANGO_SECRET_KEY"] == "s" * 40  # the engine's own environment is untouched


def test_stop_cancels_the_retry_of_a_run_that_failed_while_the_stop_was_being_recorded(make_task, transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time: the stop simply waits for the scheduler's")
    task = make_task("racing", task_retry=1)
    run = TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, trigger="manual",
                                       requested_by="alice", worker="host:1", start_time=timezone.now())
    recorded, commit, results = threading.Event(), threading.Event(), []

    def scheduler_records_the_failure():  # what the scheduler's end-of-run transaction does
        with transaction.atomic():
            TaskExecution.objects.filter(pk=run.pk).update(status=ExecutionStatus.FAILED, end_time=timezone.now())
            TaskExecution.objects.create(task=task, status=ExecutionStatus.QUEUED, trigger="retry", attempt=2,
                                         requested_by="alice", not_before=timezone.now(), worker="")
            recorded.set()
            commit.wait(10)
        connection.close()

    def user_stops():
        results.append(stop_task(task, actor="bob", via="api"))
        connection.close()

    scheduler = threading.Thread(target=scheduler_records_the_failure)
    scheduler.start()
    recorded.wait(10)
    user = threading.Thread(target=user_stops)
    user.start()

    def stop_waits_for_the_row_lock():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            return cursor.fetchone()[0]

    wait_for(stop_waits_for_the_row_lock, 10, what="the stop to wait for the scheduler's commit")
    commit.set()
    scheduler.join(10)
    user.join(10)

    retry = TaskExecution.objects.get(task=task, trigger="retry")
    assert retry.status == ExecutionStatus.STOPPED and retry.error_message == "stopped by bob before it started"
    assert results, "stop_task answered"
