"""Runs of a task type that performs its run itself (the http type, a plugin's): in the executor's thread, with
the run's environment (task_env and its one-off values, secrets opened) handed to the type, its output written
to the run's file through the masker, its time limit and stop request handed over. Nothing runs on this machine
for such a type, so no shepherd, user or limits apply; a type that raises is a failed run, never a broken pool."""
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from tasks_app.logs.handlers import OutputFeed
from tasks_app.models import ExecutionStatus
from tasks_app.secrets import keys
from tasks_app.secrets.masking import Masker
from tasks_app.tasktypes import RunContext

from . import output
from .childenv import run_env, run_secrets

log = logging.getLogger("TaskExecutor")


class MaskedOutput:
    """The run's output file as a binary stream whose writes are masked on the way (a secret cut across two
    writes included); its lines go to TASK_LOG_HANDLERS as they are written."""

    def __init__(self, fd, masker: Masker, feed=None):
        self.fd, self.masker, self.feed = fd, masker, feed

    def write(self, data: bytes) -> int:
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        masked = self.masker.feed(data) if self.masker else data
        if masked:
            _write_all(self.fd, masked)
            if self.feed is not None:
                self.feed.poll()
        return len(data)

    def flush(self):
        if self.masker:
            rest = self.masker.flush()
            if rest:
                _write_all(self.fd, rest)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@dataclass
class Ended:
    """How a performed run ended, for the runner's RunResult."""

    status: str
    return_code: int | None
    error: str
    start_time: datetime
    end_time: datetime
    duration: float
    truncated: bool
    feed: OutputFeed


def perform_run(execution, kind, label, tlog, stop_event) -> Ended:
    """Run `execution` with `kind`.perform(). ValueError (naming why, never a secret) if it cannot start."""
    task = execution.task
    masker = Masker(run_secrets(task, execution))
    plain, _secrets = keys.open_env(run_env(task, execution))  # SecretUnreadable is a ValueError naming the key
    env = {str(k): v if isinstance(v, str) else str(v) for k, v in plain.items()}
    try:
        out_fd = output.open_output(execution.output_path)
    except OSError as exc:
        raise ValueError(f"cannot write output file: {exc}") from None
    try:
        feed = OutputFeed(out_fd, task.task_id, execution.execution_id, masker)
        stream = MaskedOutput(out_fd, masker, feed)
        start_time, started = timezone.now(), time.monotonic()
        context = RunContext(task_id=task.task_id, execution_id=execution.execution_id,
                             options=dict(task.task_options or {}), env=env, timeout=task.task_timeout,
                             output=stream, stop_event=stop_event, log=tlog.logger())
        try:
            done = kind.perform(context)
            status = (ExecutionStatus.STOPPED if done.stopped else ExecutionStatus.TIMEOUT if done.timed_out
                      else ExecutionStatus.SUCCESS if done.return_code == 0 else ExecutionStatus.FAILED)
            code, error = done.return_code, done.error
            if status == ExecutionStatus.STOPPED:
                reason = getattr(stop_event, "reason", "")
                error = f"stopped: {reason}" if reason else "stopped"
        except Exception as exc:  # a plugin's bug: the run failed, the engine goes on
            log.exception("%s: task type %s raised", label.capitalize(), kind.name)
            status, code, error = ExecutionStatus.FAILED, None, f"task type {kind.name} failed: {exc!r}"
        stream.flush()
        feed.finish()
        truncated = output.finish(out_fd, False)
    finally:
        os.close(out_fd)
    return Ended(str(status), code, masker.text(error or ""), start_time, timezone.now(),
                 round(time.monotonic() - started, 3), truncated, feed)
