"""TaskExecutor: runs one execution of a task as its own process group and reports how it ended.

It never touches the database: the caller records the pid (on_start) and the RunResult."""
import logging
import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from tasks_app.definition.paths import task_log_file
from tasks_app.models import ExecutionStatus

from tasks_app.secrets import keys

from . import output, tasklog
from .childenv import ScriptPathError, child_env, command, script_path
from .procgroup import end_group, group_alive

log = logging.getLogger("TaskExecutor")

SIZE_CHECK_EVERY = 1.0  # seconds between output size checks while a child runs
POLL_STOP_EVERY = 0.1  # for a stop_event that cannot be waited on (a plain threading.Event)


@dataclass
class RunResult:
    """How a run ended. return_code is the child's exit status, or minus the signal that ended it
    (-15 SIGTERM, -9 SIGKILL) after a timeout or stop; None if it never started."""

    status: str  # ExecutionStatus value: success, failed, timeout, stopped
    return_code: int | None
    error_message: str
    start_time: datetime  # aware UTC
    end_time: datetime
    duration: float  # seconds
    output_truncated: bool
    pid: int | None


class StopSignal:
    """A stop request a running execution waits on together with its process: set() wakes it at once."""

    def __init__(self):
        self.reason = ""
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)

    def set(self, reason: str = "") -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            if self._fd is not None:
                os.eventfd_write(self._fd, 1)

    def is_set(self) -> bool:
        return self._event.is_set()

    def fileno(self) -> int | None:
        return self._fd

    def close(self) -> None:
        with self._lock:  # never write into a closed (possibly reused) descriptor
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def stop_grace() -> float:
    """SIGTERM -> SIGKILL grace for a stop: short enough that a stop completes within 2 s."""
    return min(float(settings.SCHEDULER_KILL_GRACE), float(settings.SCHEDULER_STOP_KILL_GRACE))


def not_started(execution, message: str, status: str = ExecutionStatus.FAILED) -> RunResult:
    now = timezone.now()
    return RunResult(str(status), None, message, now, now, 0.0, False, None)


def run_execution(execution, stop_event=None, on_start=None) -> RunResult:
    """Run `execution` (its .task loaded) to the end; never raises for anything the script does."""
    task = execution.task
    label = f"task {task.task_id} execution {execution.execution_id}"
    log_file = task_log_file(task)
    tlog = tasklog.task_logger(log_file)
    try:
        try:
            script = script_path(task.task_exec)
        except ScriptPathError as exc:
            return _spawn_failed(execution, label, tlog, str(exc))
        if stop_event is not None and stop_event.is_set():
            reason = getattr(stop_event, "reason", "")
            return not_started(execution, f"stopped: {reason}" if reason else "stopped", ExecutionStatus.STOPPED)
        tlog.info(
            "Execution %s starting: %s (trigger %s, attempt %s)",
            execution.execution_id, script, execution.trigger, execution.attempt,
        )
        return _run(execution, script, log_file, label, tlog, stop_event, on_start)
    finally:
        tasklog.release(log_file)


def _spawn_failed(execution, label, tlog, why) -> RunResult:
    message = f"could not start: {why}"
    tlog.error("Execution %s %s", execution.execution_id, message)
    log.error("%s %s", label.capitalize(), message)
    return not_started(execution, message)


def _run(execution, script, log_file, label, tlog, stop_event, on_start) -> RunResult:
    task = execution.task
    try:
        out_fd = output.open_output(execution.output_path)
    except OSError as exc:
        return _spawn_failed(execution, label, tlog, f"cannot write output file: {exc}")
    masker = keys.masker_for(task.task_env)
    pipe = output.MaskedPipe(out_fd, masker) if masker else None
    try:
        start_time, started = timezone.now(), time.monotonic()
        try:
            proc = subprocess.Popen(
                command(script), cwd=settings.BASE_DIR, env=child_env(task, execution, log_file),
                stdin=subprocess.DEVNULL, stdout=pipe.write_fd if pipe else out_fd, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            if pipe:
                pipe.abandon()
            return _spawn_failed(execution, label, tlog, masker.text(str(exc)))
        if pipe:
            pipe.started()
        try:
            log.info("Started %s (pid %s)", label, proc.pid)
            if on_start is not None:
                try:
                    on_start(execution, proc.pid)
                except Exception:  # recording the pid failed: the run itself goes on
                    log.exception("on_start failed for %s", label)
            status, error, truncated = _wait(proc, out_fd, stop_event, task.task_timeout, started)
        except BaseException:
            end_group(proc.pid, 0, reap=proc.poll)  # nobody would wait for it any more
            raise
        finally:
            if pipe:
                pipe.finish()
        truncated = output.finish(out_fd, truncated)
        error = masker.text(error)  # whatever an error message may hold, never a secret
    finally:
        os.close(out_fd)
    end_time = timezone.now()
    duration = round(time.monotonic() - started, 3)
    result = RunResult(status, proc.returncode, error, start_time, end_time, duration, truncated, proc.pid)
    outcome = status if not error else f"{status} ({error})"
    tlog.info("Execution %s finished: %s, return code %s, %.2f s", execution.execution_id, outcome,
              proc.returncode, duration)
    log.info("Finished %s: %s in %.2f s", label, outcome, duration)
    return result


def _wait(proc, out_fd, stop_event, timeout, started):
    """Wait for the child, a stop or the timeout; end the group. Returns (status, error, cut_while_running)."""
    poller = select.poll()  # not select(): descriptors above 1024 are normal in a busy engine
    pidfd = _pidfd(proc.pid)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    stop_fd = getattr(stop_event, "fileno", lambda: None)() if stop_event is not None else None
    if stop_fd is not None:
        poller.register(stop_fd, select.POLLIN)
    must_poll = stop_event is not None and stop_fd is None or pidfd is None
    deadline = started + timeout if timeout else None
    next_check = started + SIZE_CHECK_EVERY
    cut = False
    try:
        while True:
            now = time.monotonic()
            wait = next_check - now
            if deadline is not None:
                wait = min(wait, deadline - now)
            if must_poll:
                wait = min(wait, POLL_STOP_EVERY)
            if wait > 0:
                poller.poll(wait * 1000)
            if proc.poll() is not None:
                break
            if stop_event is not None and stop_event.is_set():
                end_group(proc.pid, stop_grace(), reap=proc.poll)
                proc.wait()
                reason = getattr(stop_event, "reason", "")
                return ExecutionStatus.STOPPED.value, f"stopped: {reason}" if reason else "stopped", cut
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                end_group(proc.pid, float(settings.SCHEDULER_KILL_GRACE), reap=proc.poll)
                proc.wait()
                return ExecutionStatus.TIMEOUT.value, f"timed out after {timeout} s", cut
            if now >= next_check:
                cut = output.check_running(out_fd) or cut
                next_check = now + SIZE_CHECK_EVERY
    finally:
        if pidfd is not None:
            os.close(pidfd)
    if group_alive(proc.pid):
        # The script is done but left processes behind (a background child): no orphan may outlive a run.
        end_group(proc.pid, float(settings.SCHEDULER_KILL_GRACE))
    if proc.returncode == 0:
        return ExecutionStatus.SUCCESS.value, "", cut
    return ExecutionStatus.FAILED.value, exit_message(proc.returncode), cut


def exit_message(code: int) -> str:
    if code < 0:
        try:
            return f"exit code {code} (killed by {signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exit code {code}"


def _pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # kernels before 5.3: poll instead
        return None
