"""LocalExecutor with real processes: the bound, FIFO order, stops, shutdown, errors, and parent death."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tasks_app.engine.executor import LocalExecutor

from .helpers import process_exists, wait_for

pytestmark = pytest.mark.django_db


class Recorder:
    """on_start / on_finish callbacks that remember what they were told, thread-safely."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started = []  # (execution id, pid)
        self.finished = {}  # execution id -> [RunResult, ...]
        self.done = threading.Condition(self.lock)

    def on_start(self, execution, pid):
        with self.lock:
            self.started.append((execution.execution_id, pid))

    def on_finish(self, execution, result):
        with self.lock:
            self.finished.setdefault(execution.execution_id, []).append(result)
            self.done.notify_all()

    def wait_finished(self, count, timeout):
        with self.lock:
            assert self.done.wait_for(lambda: len(self.finished) >= count, timeout), self.finished
            return dict(self.finished)

    def result(self, execution):
        (result,) = self.finished[execution.execution_id]  # exactly once
        return result


def stamps(tmp_path, execution):
    base = tmp_path / str(execution.execution_id)
    return float(Path(f"{base}.start").read_text()), float(Path(f"{base}.end").read_text())


def test_the_pool_runs_at_most_n_at_once_and_starts_waiting_runs_in_fifo_order(make_execution, tmp_path):
    env = {"STAMP_DIR": str(tmp_path), "SLEEP": "0.5"}
    executions = [make_execution("stamp.py", task_env=env) for _ in range(6)]
    executor, rec = LocalExecutor(max_workers=2), Recorder()

    for execution in executions:
        executor.submit(execution, rec.on_start, rec.on_finish)
    assert executor.running() == {e.execution_id for e in executions}
    rec.wait_finished(6, 20)

    assert all(rec.result(e).status == "success" for e in executions)
    spans = [stamps(tmp_path, e) for e in executions]
    for start, _ in spans:
        assert sum(1 for s, end in spans if s <= start < end) <= 2
    # Started two by two, in the order they were submitted.
    first_of_each_pair = [max(spans[i][0], spans[i + 1][0]) for i in (0, 2)]
    next_pair = [min(spans[i][0], spans[i + 1][0]) for i in (2, 4)]
    assert all(a < b for a, b in zip(first_of_each_pair, next_pair))
    assert executor.running() == set()
    assert executor.shutdown(1) == []


def test_one_worker_runs_executions_strictly_in_submission_order(make_execution, tmp_path):
    env = {"STAMP_DIR": str(tmp_path), "SLEEP": "0.05"}
    executions = [make_execution("stamp.py", task_env=env) for _ in range(4)]
    executor, rec = LocalExecutor(max_workers=1), Recorder()

    for execution in executions:
        executor.submit(execution, None, rec.on_finish)
    rec.wait_finished(4, 20)

    spans = [stamps(tmp_path, e) for e in executions]
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(3))
    executor.shutdown(1)


def backfill_run(make_execution, task_exec, **fields):
    """A run of a backfill (a Backfill row of its task), as the engine hands it over."""
    from django.utils import timezone

    from tasks_app.models import Backfill, TaskExecution

    execution = make_execution(task_exec, trigger="backfill", **fields)
    now = timezone.now()
    backfill = Backfill.objects.create(task=execution.task, start=now, end=now, requested_by="alice")
    TaskExecution.objects.filter(pk=execution.pk).update(backfill=backfill)
    return TaskExecution.objects.select_related("task").get(pk=execution.pk)


def test_backfill_runs_leave_a_worker_free_so_a_run_on_time_starts_at_once(make_execution, tmp_path):
    env = {"STAMP_DIR": str(tmp_path), "SLEEP": "3"}
    backfill = [backfill_run(make_execution, "stamp.py", task_env=env) for _ in range(3)]
    executor, rec = LocalExecutor(max_workers=2), Recorder()
    executor.submit_many(backfill, rec.on_start, rec.on_finish)
    wait_for(lambda: rec.started, 10)
    on_time = make_execution("stamp.py", trigger="schedule", task_env={**env, "SLEEP": "0"})
    executor.submit(on_time, rec.on_start, rec.on_finish)
    rec.wait_finished(1, 5)  # the run on time, while the first backfill run still sleeps

    assert on_time.execution_id in rec.finished
    rec.wait_finished(4, 20)
    start, _ = stamps(tmp_path, on_time)
    first_start, first_end = stamps(tmp_path, backfill[0])
    assert first_start < start < first_end
    spans = [stamps(tmp_path, e) for e in backfill]
    for begun, _ in spans:  # backfill runs one at a time: max_workers - 1 of the pool
        assert sum(1 for s, end in spans if s <= begun < end) == 1
    executor.shutdown(1)


def test_a_waiting_run_on_time_goes_before_backfill_runs_that_waited_longer(make_execution, tmp_path):
    env = {"STAMP_DIR": str(tmp_path), "SLEEP": "0.3"}
    first = make_execution("stamp.py", task_env=env)
    backfill = [backfill_run(make_execution, "stamp.py", task_env=env) for _ in range(2)]
    on_time = make_execution("stamp.py", trigger="schedule", task_env=env)
    executor, rec = LocalExecutor(max_workers=1), Recorder()  # a pool of one: backfills may use its one worker
    executor.submit_many([first, *backfill, on_time], rec.on_start, rec.on_finish)
    rec.wait_finished(4, 20)

    order = sorted([first, *backfill, on_time], key=lambda e: stamps(tmp_path, e)[0])
    assert [e.execution_id for e in order] == [e.execution_id for e in (first, on_time, *backfill)]
    executor.shutdown(1)


def test_a_waiting_backfill_run_can_be_stopped_and_is_stopped_at_shutdown(make_execution, tmp_path):
    ready = tmp_path / "ready"
    running = make_execution("sleeper.py", task_env={"READY_FILE": str(ready)})
    waiting = [backfill_run(make_execution, "exit_one.py") for _ in range(2)]
    executor, rec = LocalExecutor(max_workers=1), Recorder()
    executor.submit_many([running, *waiting], rec.on_start, rec.on_finish)
    wait_for(ready.exists, 10)

    assert executor.stop(waiting[0].execution_id, "by bob") is True
    rec.wait_finished(1, 2)
    assert rec.result(waiting[0]).error_message == "stopped: by bob"
    assert waiting[1].execution_id in executor.shutdown(0.2)
    assert rec.wait_finished(3, 10)[waiting[1].execution_id][0].status == "stopped"


def test_stopping_a_waiting_execution_reports_it_stopped_at_once_without_running_it(make_execution, tmp_path):
    ready = tmp_path / "ready"
    running = make_execution("sleeper.py", task_env={"READY_FILE": str(ready)})
    waiting = make_execution("exit_one.py")
    executor, rec = LocalExecutor(max_workers=1), Recorder()
    executor.submit(running, rec.on_start, rec.on_finish)
    executor.submit(waiting, rec.on_start, rec.on_finish)
    wait_for(ready.exists, 10)

    assert executor.stop(waiting.execution_id, "by bob") is True
    rec.wait_finished(1, 2)

    result = rec.result(waiting)
    assert (result.status, result.return_code, result.error_message) == ("stopped", None, "stopped: by bob")
    assert not waiting.output_path.exists()
    assert executor.running() == {running.execution_id}
    asked = time.monotonic()
    assert executor.stop(running.execution_id, "by bob") is True
    rec.wait_finished(2, 2)
    assert time.monotonic() - asked < 2
    assert rec.result(running).status == "stopped"
    assert executor.stop(running.execution_id, "again") is False
    assert [eid for eid, _ in rec.started] == [running.execution_id]
    executor.shutdown(1)


def test_shutdown_lets_short_runs_finish_then_stops_the_rest(make_execution, tmp_path):
    ready = tmp_path / "ready"
    long_run = make_execution("sleeper.py", task_env={"READY_FILE": str(ready)})
    short_run = make_execution("stamp.py", task_env={"STAMP_DIR": str(tmp_path), "SLEEP": "0.3"})
    waiting = make_execution("stamp.py", task_env={"STAMP_DIR": str(tmp_path)})
    executor, rec = LocalExecutor(max_workers=2), Recorder()
    for execution in (long_run, short_run, waiting):
        executor.submit(execution, rec.on_start, rec.on_finish)
    wait_for(ready.exists, 10)

    began = time.monotonic()
    stopped = executor.shutdown(grace=1)

    assert 1 <= time.monotonic() - began < 1 + 2
    assert sorted(stopped) == sorted([long_run.execution_id, waiting.execution_id])
    assert rec.result(short_run).status == "success"
    assert rec.result(long_run).status == "stopped"
    assert rec.result(long_run).error_message == "stopped: scheduler shutting down"
    assert (rec.result(waiting).status, rec.result(waiting).return_code) == ("stopped", None)
    assert not (tmp_path / f"{waiting.execution_id}.start").exists()
    with pytest.raises(RuntimeError):
        executor.submit(make_execution("exit_one.py"), None, rec.on_finish)


def test_the_pool_survives_broken_executions_and_callbacks(make_execution, caplog):
    broken = SimpleNamespace(execution_id=999_999, task=None)  # run_execution fails on it
    fine = make_execution("exit_one.py")
    executor, rec = LocalExecutor(max_workers=1), Recorder()

    def bad_start(execution, pid):
        raise RuntimeError("cannot record pid")

    executor.submit(broken, None, rec.on_finish)
    executor.submit(fine, bad_start, rec.on_finish)
    executor.submit(make_execution("exit_one.py"), None, lambda e, r: 1 / 0)
    rec.wait_finished(2, 10)

    assert rec.finished[999_999][0].status == "failed"
    assert rec.finished[999_999][0].error_message.startswith("executor error: AttributeError")
    assert rec.result(fine).status == "failed" and rec.result(fine).return_code == 1
    wait_for(lambda: not executor.running(), 10)  # the raising on_finish did not kill the worker
    executor.shutdown(5)


def test_an_execution_cannot_be_submitted_twice_while_it_is_here(make_execution):
    execution = make_execution("sleeper.py", task_env={"SLEEP": "0.5"})
    executor, rec = LocalExecutor(max_workers=1), Recorder()
    executor.submit(execution, None, rec.on_finish)

    with pytest.raises(ValueError, match=f"execution {execution.execution_id} was already submitted"):
        executor.submit(execution, None, rec.on_finish)

    rec.wait_finished(1, 10)
    assert rec.result(execution).status == "success"
    executor.shutdown(1)


@pytest.mark.slow
def test_a_task_process_dies_when_the_engine_is_killed(scripts_dir, tmp_path):
    ready = tmp_path / "ready"
    host = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("pdeath_host.py")), str(ready)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "TASKS_DIR": str(scripts_dir)},
    )
    try:
        task_pid = int(host.stdout.readline())
        wait_for(ready.exists, 15, what="the task to start")
        assert process_exists(task_pid)

        host.send_signal(signal.SIGKILL)
        host.wait(5)

        wait_for(lambda: not process_exists(task_pid), 5, what=f"task process {task_pid} to die")
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
