"""TaskExecutor: runs one execution of a task through its shepherd (the shepherd package), which starts the script as
the run's user with the run's limits and kills every process of the run when it ends, and reports how it
ended.

It never touches the database: the caller records the pid (on_start) and the RunResult."""
import logging
import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from tasks_app.logs.handlers import OutputFeed
from tasks_app.models import ExecutionStatus

from tasks_app.secrets.masking import Masker

from . import identity, limits, output, preparation
from .forkserver import wanted as fast_start_wanted
from .performer import perform_run
from .childenv import command
from .shepherd_link import ANSWER_MARGIN, ShepherdGone, ShepherdLink

log = logging.getLogger("TaskExecutor")

SIZE_CHECK_EVERY = 1.0  # seconds between output size checks while a child runs
POLL_STOP_EVERY = 0.1  # for a stop_event that cannot be waited on (a plain threading.Event)
POLL_AT_MOST = 3600.0  # poll() takes an int of milliseconds: a huge timeout (a test's, a setting's) would overflow it
FEED_EVERY = 0.25  # seconds between two reads of new output lines for TASK_LOG_HANDLERS (only when there are any)
OUTPUT_TAIL = 4096  # bytes of a failed run's output searched for words that suggest a limit


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
    leftover_processes: int | None = None  # processes of the run still alive when it ended, then killed
    run_as: str = ""  # the user the script ran as
    limits: dict | None = None  # limits.LimitPlan.record(): which applied and how (None: never started)


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
    preparation.discard(execution)  # prepared at its claim, it never starts: no file or handle stays
    now = timezone.now()
    return RunResult(str(status), None, message, now, now, 0.0, False, None)


def run_execution(execution, stop_event=None, on_start=None) -> RunResult:
    """Run `execution` (its .task loaded) to the end; never raises for anything the script does."""
    prep = preparation.take(execution)  # made at claim time for a run held until its slot, else now
    label = f"task {execution.task.task_id} execution {execution.execution_id}"
    tlog = prep.task_log_writer()
    try:
        if prep.unfit:
            return _spawn_failed(execution, label, tlog, prep.unfit)
        # A run whose script was told to start at its slot (dispatch.py) runs: a stop ends it as it ends any
        # other started run.
        if stop_event is not None and stop_event.is_set() and not prep.went():
            prep.discard()
            reason = getattr(stop_event, "reason", "")
            return not_started(execution, f"stopped: {reason}" if reason else "stopped", ExecutionStatus.STOPPED)
        tlog.info(
            "Execution %s starting: %s (trigger %s, attempt %s)",
            execution.execution_id, prep.script or f"a {prep.kind.name} task", execution.trigger, execution.attempt,
        )
        if prep.kind.performs:
            return _performed(execution, prep.kind, label, tlog, stop_event, on_start)
        if prep.refused:
            return _spawn_failed(execution, label, tlog, prep.refused)
        return _run(execution, prep, label, tlog, stop_event, on_start)
    finally:
        prep.drop_link()  # a shepherd started ahead of a run that did not start
        if prep.cgroup_ready:  # never handed to a shepherd (a run that did not start)
            prep.discard_cgroup()
        prep.close()  # the task log's descriptor too


def _performed(execution, kind, label, tlog, stop_event, on_start) -> RunResult:
    """A run the type performs itself (performer.py): no process of its own, so no pid and no limits. Its start
    is reported with pid 0, so the engine counts it as started (overrun alerts, a slot not missed) and crash
    recovery has no process to look for."""
    if on_start is not None:
        try:
            on_start(execution, 0)
        except Exception:  # recording the start failed: the run itself goes on
            log.exception("on_start failed for %s", label)
    try:
        ended = perform_run(execution, kind, label, tlog, stop_event)
    except ValueError as exc:
        return _spawn_failed(execution, label, tlog, str(exc))
    finished = ended.status if not ended.error else f"{ended.status} ({ended.error})"
    tlog.info("Execution %s finished: %s, return code %s, %.2f s", execution.execution_id, finished,
              ended.return_code, ended.duration)
    ended.feed.ended(ended.status, f"Execution {execution.execution_id} finished: {finished}, return code "
                                   f"{ended.return_code}")
    log.info("Finished %s: %s in %.2f s", label, finished, ended.duration)
    return RunResult(ended.status, ended.return_code, ended.error, ended.start_time, ended.end_time, ended.duration,
                     ended.truncated, None)


def _spawn_failed(execution, label, tlog, why) -> RunResult:
    message = f"could not start: {why}"
    tlog.error("Execution %s %s", execution.execution_id, message)
    log.error("%s %s", label.capitalize(), message)
    return not_started(execution, message)


def _run(execution, prep, label, tlog, stop_event, on_start) -> RunResult:
    task = execution.task
    script, out_fd = prep.script, prep.out_fd
    start_time, started = timezone.now(), time.monotonic()
    link = _went(execution, prep)  # first: for a run held for its slot, this is the slot's whole work
    if link is not None:
        start_time, started = link.went  # the slot watch may have said "go" before this thread took the run
    # The shepherd masks the task's secrets in what the run writes, before it reaches the output file; the
    # engine masks them in the messages it makes of it.
    masker = Masker(prep.secrets)
    if link is None:
        try:
            link = ShepherdLink.start(command(script, execution.execution_id), prep.spec(), out_fd,
                                      fast=fast_start_wanted(task), cgroup_ready=_cgroup_taken(prep))
        except (OSError, ValueError, subprocess.SubprocessError, ShepherdGone) as exc:
            return _spawn_failed(execution, label, tlog, masker.text(str(exc)))
    feed = OutputFeed(out_fd, task.task_id, execution.execution_id, masker)  # TASK_LOG_HANDLERS
    try:
        try:
            outcome = _wait(link, execution, label, on_start, out_fd, stop_event, task.task_timeout, started, feed)
        except BaseException:
            link.abort()  # nobody would wait for the run any more: none of its processes may stay
            raise
    finally:
        link.close()
    feed.finish()
    truncated = output.finish(out_fd, outcome.truncated)
    tail = _tail(out_fd) if outcome.code not in (0, None) else ""
    if outcome.setup_error:
        return _spawn_failed(execution, label, tlog, masker.text(outcome.setup_error))
    status, error = _verdict(outcome, prep.plan, prep.run_as, tail, task.task_timeout)
    if link.how:  # how fast start went: "forked", or why the run was spawned instead
        outcome.limits["start"] = link.how
    error = masker.text(error)  # the output's tail is masked already; whatever else it holds, never a secret
    end_time = timezone.now()
    duration = round(time.monotonic() - started, 3)
    result = RunResult(status, outcome.code, error, start_time, end_time, duration, truncated, outcome.pid,
                       outcome.leftover, identity.run_user_name(prep.run_as), outcome.limits)
    finished = status if not error else f"{status} ({error})"
    tlog.info("Execution %s finished: %s, return code %s, %.2f s", execution.execution_id, finished,
              outcome.code, duration)
    feed.ended(status, f"Execution {execution.execution_id} finished: {finished}, return code {outcome.code}")
    log.info("Finished %s: %s in %.2f s", label, finished, duration)
    return result


def _went(execution, prep):
    """The shepherd started ahead of the slot with its spec (prestart.py), told to start the script now unless the
    slot watch told it already (dispatch.py); None if there is none, or if it died meanwhile (its cgroup went with
    it: the run then starts a shepherd now, as if none had been)."""
    prep.go(execution)
    return prep.take_link()


def _cgroup_taken(prep) -> bool:
    """Whether the run's cgroup is made already; the shepherd's link removes it from here on."""
    ready = prep.cgroup_ready
    prep.cgroup_given()
    return ready


@dataclass
class _Outcome:
    """What the wait saw: the shepherd's report (or the engine's own clean-up) and what the engine asked."""

    code: int | None = None
    pid: int | None = None
    leftover: int | None = None
    limits: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    asked: str = ""  # "stop" or "timeout"
    stop_reason: str = ""
    truncated: bool = False
    setup_error: str = ""
    lost_shepherd: str = ""  # why the engine ended the run without the shepherd


def _wait(link, execution, label, on_start, out_fd, stop_event, timeout, started, feed) -> _Outcome:
    """Until the shepherd reports the run's end. Asks it to end the run on a stop or the timeout, and ends
    the run by itself when the shepherd is gone or does not answer."""
    poller = select.poll()  # not select(): descriptors above 1024 are normal in a busy engine
    poller.register(link.result_r, select.POLLIN)
    if link.pidfd is not None:
        poller.register(link.pidfd, select.POLLIN)
    stop_fd = getattr(stop_event, "fileno", lambda: None)() if stop_event is not None else None
    if stop_fd is not None:
        poller.register(stop_fd, select.POLLIN)
    must_poll = stop_event is not None and stop_fd is None or link.pidfd is None
    deadline = started + timeout if timeout else None
    answer_by = None
    next_check = started + SIZE_CHECK_EVERY
    next_feed = started + FEED_EVERY if feed.on else None
    outcome = _Outcome()
    while True:
        now = time.monotonic()
        wait = next_check - now
        if next_feed is not None:
            wait = min(wait, next_feed - now)
        for moment in (deadline if not outcome.asked else None, answer_by):
            if moment is not None:
                wait = min(wait, moment - now)
        if must_poll:
            wait = min(wait, POLL_STOP_EVERY)
        if wait > 0:
            poller.poll(min(wait, POLL_AT_MOST) * 1000)
        for event in link.read_events():
            if event.get("event") == "started":
                outcome.pid, outcome.report = event["pid"], event
                log.info("Started %s (pid %s)", label, outcome.pid)
                if on_start is not None:
                    try:
                        on_start(execution, outcome.pid)
                    except Exception:  # recording the pid failed: the run itself goes on
                        log.exception("on_start failed for %s", label)
        if link.end is not None:
            break
        if link.exited() and link.read_end() is None:
            outcome.lost_shepherd = f"its shepherd ended before the run ({_how(link.proc.returncode)})"
            break
        now = time.monotonic()
        if not outcome.asked and stop_event is not None and stop_event.is_set():
            outcome.asked, outcome.stop_reason = "stop", getattr(stop_event, "reason", "")
            link.term(stop_grace())
            answer_by = now + stop_grace() + ANSWER_MARGIN
        elif not outcome.asked and deadline is not None and now >= deadline:
            outcome.asked = "timeout"
            link.term(float(settings.SCHEDULER_KILL_GRACE))
            answer_by = now + float(settings.SCHEDULER_KILL_GRACE) + ANSWER_MARGIN
        if answer_by is not None and now >= answer_by:
            outcome.lost_shepherd = f"its shepherd did not end the run within {ANSWER_MARGIN:g} s of the grace"
            break
        if next_feed is not None and now >= next_feed:
            feed.poll()
            next_feed = now + FEED_EVERY
        if now >= next_check:
            outcome.truncated = output.check_running(out_fd) or outcome.truncated
            next_check = now + SIZE_CHECK_EVERY
    if outcome.lost_shepherd:
        log.error("%s: %s; the engine kills the run's processes itself", label.capitalize(), outcome.lost_shepherd)
        outcome.leftover = link.end_without_shepherd()
        return outcome
    report = outcome.report = link.end
    if report.get("survivors"):
        log.error("%s: %d process(es) of the run did not die of SIGKILL within 30 s (stuck in the kernel)",
                  label.capitalize(), report["survivors"])
    outcome.code = report.get("returncode")
    outcome.leftover = report.get("leftover")
    outcome.setup_error = report.get("setup_error") or ""
    return outcome


def _verdict(outcome, plan, run_as, tail, timeout) -> tuple[str, str]:
    """(status, error message) of a run the shepherd or the engine ended; also fills outcome.limits."""
    report = outcome.report
    if report.get("cgroup"):
        outcome.limits = plan.record()
    else:
        outcome.limits = {**plan.record("setrlimit"), **limits.fallback_values(plan, run_as)}
        if report.get("cgroup_error"):
            log.warning("The run's cgroup could not be made (%s): setrlimit applied", report["cgroup_error"])
    hit = limits.reached(outcome.limits, report)
    if outcome.asked == "stop":
        reason = outcome.stop_reason
        return ExecutionStatus.STOPPED.value, f"stopped: {reason}" if reason else "stopped"
    if outcome.asked == "timeout":
        if hit:  # the limit is why it never finished (a fork bomb held at its process limit)
            return ExecutionStatus.FAILED.value, f"{hit}; timed out after {timeout} s"
        return ExecutionStatus.TIMEOUT.value, f"timed out after {timeout} s"
    if outcome.lost_shepherd:
        return ExecutionStatus.FAILED.value, f"{outcome.lost_shepherd}; its processes were killed"
    if outcome.code == 0:
        return ExecutionStatus.SUCCESS.value, ""
    if hit:
        return ExecutionStatus.FAILED.value, hit
    maybe = limits.maybe_reached(outcome.limits, tail)
    message = exit_message(outcome.code)
    return ExecutionStatus.FAILED.value, f"{message}; {maybe}" if maybe else message


def _how(returncode) -> str:
    if returncode is not None and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            pass
    return f"exit code {returncode}"


def _tail(fd) -> str:
    size = os.fstat(fd).st_size
    return os.pread(fd, OUTPUT_TAIL, max(0, size - OUTPUT_TAIL)).decode("utf-8", errors="replace")


def exit_message(code) -> str:
    if code is None:
        return "ended without an exit status"
    if code < 0:
        try:
            return f"exit code {code} (killed by {signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exit code {code}"
