"""Runs through the engine, driven in-process with the real LocalExecutor and real task processes:
run now, timeout, retries and the failure e-mail, stop, secrets, and what TaskStatus says."""
import os
from pathlib import Path

from django.conf import settings
from django.core import mail

from tasks_app.engine.procgroup import group_alive
from tasks_app.models import ExecutionStatus, TaskExecution, TaskStatus
from tasks_app.services.executions import NothingRunning, run_now, stop_task

from .conftest import journal_pid, process_alive, wait_for


def ended(execution_id):
    execution = TaskExecution.objects.get(pk=execution_id)
    return execution if execution.status not in ExecutionStatus.active() else None


def test_run_now_starts_within_a_second_and_records_the_run(start_engine, make_task):
    task = make_task("quick", task_exec="ok.py")
    start_engine()
    queued = run_now(task, actor="alice", door="api")
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
    execution = run_now(task, actor="alice", door="web")
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
    first = run_now(task, actor="alice", door="api")

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


def test_stop_ends_a_running_execution_within_two_seconds_and_cancels_its_retry(start_engine, make_task):
    task = make_task("long", task_exec="sleep.py", task_env={"SLEEP": "60"}, task_retry=3, task_retry_interval=1)
    start_engine()
    execution = run_now(task, actor="alice", door="web")
    wait_for(lambda: TaskExecution.objects.filter(pk=execution.pk, status="running").exists(), 2)
    wait_for(lambda: journal_pid(execution.pk), 5, what="the child to start")

    asked = stop_task(task, actor="bob", door="api")
    assert [e.pk for e in asked] == [execution.pk]
    done = wait_for(lambda: ended(execution.pk), 2.5, what="the stop")
    assert done.status == ExecutionStatus.STOPPED and done.stop_requested_by == "bob"
    assert "bob" in done.error_message
    assert TaskExecution.objects.filter(task=task).count() == 1, "a stopped run is not retried"
    assert not TaskStatus.objects.get(task=task).running


def test_stop_with_nothing_running_says_so(make_task):
    task = make_task("idle")
    try:
        stop_task(task, actor="bob", door="api")
    except NothingRunning as exc:
        assert "idle" in str(exc)
    else:
        raise AssertionError("NothingRunning expected")


def test_stop_cancels_a_queued_run_before_the_scheduler_claims_it(make_task):
    task = make_task("later")
    queued = run_now(task, actor="alice", door="web")
    stop_task(task, actor="bob", door="web")
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
    execution = run_now(task, actor="alice", door="api")
    assert wait_for(lambda: ended(execution.pk), 10).status == ExecutionStatus.SUCCESS

    seen = dict(line.split("=", 1) for line in env_file.read_text(encoding="utf-8").splitlines() if "=" in line)
    assert seen["PARAM1"] == "值1" and seen["TASK_ID"] == "peek" and seen["TASK_EXECUTION_ID"] == str(execution.pk)
    for name in ("DJANGO_SECRET_KEY", "DATABASE_URL", "EMAIL_HOST_PASSWORD", "CONF_DIR", "LOGS_DIR"):
        assert name not in seen
    text = env_file.read_text(encoding="utf-8")
    for secret in ("s" * 40, "hunter2", "mail-secret", settings.SECRET_KEY):
        assert secret not in text
    assert os.environ["DJANGO_SECRET_KEY"] == "s" * 40  # the engine's own environment is untouched
