"""Executors run executions handed over by the scheduler. LocalExecutor is a bounded pool of long-lived
threads on this machine; CeleryExecutor (celery_executor.py) sends them to Celery workers. make_executor()
picks one by settings.SCHEDULER_EXECUTOR."""
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Protocol

from django.conf import settings

from tasks_app.models import ExecutionStatus

from .policy import is_backfill
from .preparation import went
from .runner import RunResult, StopSignal, not_started, run_execution, stop_grace

log = logging.getLogger("TaskExecutor")

SHUTDOWN_REASON = "scheduler shutting down"

OnStart = Callable[[object, int], None]
OnFinish = Callable[[object, RunResult], None]


class Executor(Protocol):
    # Whether runs are prepared here (preparation.py) by the thread that spawns them, so the dispatcher may
    # prepare one held until its slot beforehand (and call warm(runs) before the slot and room() at it, to start
    # the scripts of as many held runs itself: LocalExecutor).
    prepares: bool

    def submit(self, execution, on_start: OnStart | None, on_finish: OnFinish) -> None:
        """Run `execution` (task loaded). on_finish is called exactly once, from a pool thread."""

    def submit_many(self, executions, on_start: OnStart | None, on_finish: OnFinish) -> list:
        """submit() for the runs of one moment at once; [(execution, exception)] of those it refused (their
        on_finish is not called)."""

    def stop(self, execution_id: int, reason: str) -> bool:
        """Stop a running or queued execution; True if it was here."""

    def running(self) -> set[int]:
        """Ids of executions running or waiting here."""

    def shutdown(self, grace: float) -> list[int]:
        """Take no more work, let running executions finish for `grace` s, stop the rest; ids stopped."""

    # Runs elsewhere (Celery workers) outlive the scheduler: it neither stops them when it shuts down nor
    # records them lost when it starts; it adopts them and follows their ends.
    runs_elsewhere: bool

    def adopt(self, execution, on_start: OnStart | None, on_finish: OnFinish) -> None:
        """Follow a run a previous scheduler handed over (runs_elsewhere executors only)."""

    def follow(self) -> None:
        """Called by the engine thread on every tick: an executor whose runs report through the database
        reads their news here (and calls on_finish from this thread)."""


def make_executor():
    """The executor settings.SCHEDULER_EXECUTOR names."""
    if settings.SCHEDULER_EXECUTOR == "celery":
        from .celery_executor import CeleryExecutor

        return CeleryExecutor()
    return LocalExecutor(max_workers=settings.SCHEDULER_MAX_WORKERS)


@dataclass(eq=False)
class _Job:
    execution: object
    on_start: OnStart | None
    on_finish: OnFinish
    stop: StopSignal = field(default_factory=StopSignal)
    started: bool = False


class LocalExecutor:
    """At most `max_workers` (settings.SCHEDULER_MAX_WORKERS) executions at once; the rest wait in FIFO order,
    backfill runs behind every other run: a backfill of a thousand past slots must not make the schedule late. A
    backfill run starts only when no other run waits, and backfill runs hold at most max_workers - 1 workers (all
    of them with a pool of one), so a worker is free when a scheduled run comes due in the middle of a backfill.

    Workers are threads that live as long as the executor, because the parent-death signal of a task's
    process fires when the thread that started it exits. The executor never touches the database."""

    runs_elsewhere = False
    prepares = True  # a run held until its slot is prepared at its claim (preparation.py): its thread takes it
    reports_starts = True  # on_start is called when each run's process starts (not when it is queued)

    def __init__(self, max_workers: int | None = None):
        self.max_workers = max_workers or settings.SCHEDULER_MAX_WORKERS
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()  # every run but a backfill's
        self._backfill_queue: deque[_Job] = deque()
        self._backfills_running = 0
        self.backfill_workers = max(1, self.max_workers - 1)
        self._jobs: dict[int, _Job] = {}
        self._workers: list[threading.Thread] = []
        self._idle = 0
        self._closed = False
        self._stopped_for_shutdown: list[int] = []
        # Stopped-while-queued runs are reported by their own thread: every worker may be busy for hours.
        self._reports: deque[tuple[_Job, RunResult]] = deque()
        self._reporter: threading.Thread | None = None

    # The Executor interface.

    def submit(self, execution, on_start: OnStart | None, on_finish: OnFinish) -> None:
        refused = self.submit_many([execution], on_start, on_finish)
        if refused:
            raise refused[0][1]

    def submit_many(self, executions, on_start: OnStart | None, on_finish: OnFinish) -> list:
        """The runs of a slot in one go: one lock, one wake-up of the idle workers. Each submit under its own
        lock took the GIL from the workers already spawning the first runs, about 0.5 ms a run."""
        jobs = [_Job(execution, on_start, on_finish) for execution in executions]  # eventfds outside the lock
        refused = []
        with self._cond:
            for job in jobs:
                execution_id = job.execution.execution_id
                if self._closed:
                    refused.append((job, RuntimeError("the executor is shut down and takes no more work")))
                elif execution_id in self._jobs:
                    refused.append((job, ValueError(f"execution {execution_id} was already submitted")))
                else:
                    self._jobs[execution_id] = job
                    (self._backfill_queue if is_backfill(job.execution) else self._queue).append(job)
            # _idle counts workers still waiting, some perhaps already woken for earlier jobs.
            started, startable = 0, self._startable()
            while startable > self._idle + started and len(self._workers) < self.max_workers:
                self._start_worker()
                started += 1
            self._cond.notify(len(jobs) - len(refused))
        for job, _ in refused:
            job.stop.close()
        return [(job.execution, exc) for job, exc in refused]

    def warm(self, runs: int) -> None:
        """Start the idle workers that `runs` about to be submitted (held for their slot) will need: a thread's
        start waits for the thread to run, milliseconds each on a busy machine, which a slot's hand-over of a
        hundred runs should not pay seven times over."""
        with self._cond:
            while not self._closed and len(self._workers) < min(self.max_workers, len(self._jobs) + runs):
                self._start_worker()

    def room(self) -> int:
        """How many runs handed over now would each find a worker at once (an idle one, or one the pool may still
        start): the dispatcher tells that many held runs' scripts to start at their slot before it hands them over
        (dispatch.py), and no script may run while its run waits in the queue for a worker."""
        with self._cond:
            if self._closed:
                return 0
            waiting = len(self._queue) + len(self._backfill_queue)
            return max(0, self.max_workers - (len(self._jobs) - waiting) - len(self._queue))

    def stop(self, execution_id: int, reason: str) -> bool:
        with self._cond:
            job = self._jobs.get(execution_id)
            if job is None:
                return False
            # A run whose script was told to start already is a running one: its worker ends it.
            if not job.started and not went(job.execution):
                (self._backfill_queue if job in self._backfill_queue else self._queue).remove(job)
                del self._jobs[execution_id]
                self._report_later(job, f"stopped: {reason}" if reason else "stopped")
                return True
        job.stop.set(reason)
        return True

    def running(self) -> set[int]:
        with self._cond:
            return set(self._jobs)

    def adopt(self, execution, on_start, on_finish) -> None:
        raise NotImplementedError("a local run does not outlive its scheduler")

    def follow(self) -> None:
        """Local runs report through on_finish from their own threads."""

    def shutdown(self, grace: float) -> list[int]:
        with self._cond:
            self._closed = True
            # A run whose script was told to start at its slot is a running one, which its worker takes still.
            waiting = [job for job in (*self._queue, *self._backfill_queue) if not went(job.execution)]
            self._queue = deque(job for job in self._queue if went(job.execution))
            self._backfill_queue = deque(job for job in self._backfill_queue if went(job.execution))
            for job in waiting:
                del self._jobs[job.execution.execution_id]
                self._report_later(job, f"stopped: {SHUTDOWN_REASON}")
            self._cond.notify_all()
            workers = list(self._workers)
        stopped = [job.execution.execution_id for job in waiting]
        self._join(workers, grace)
        with self._cond:
            still = list(self._jobs.values())
        if still:
            log.warning("Stopping %d execution(s) still running after %s s: %s", len(still), grace,
                        sorted(j.execution.execution_id for j in still))
        for job in still:
            job.stop.set(SHUTDOWN_REASON)
        # A stop takes stop_grace() plus the time to see the group gone; after that a worker is stuck.
        self._join(workers, stop_grace() + float(settings.SCHEDULER_KILL_GRACE) + 10)
        with self._cond:
            self._cond.notify_all()
            reporter = self._reporter
        if reporter is not None:
            reporter.join(10)
        return stopped + self._stopped_for_shutdown

    # Workers.

    def _start_worker(self):
        thread = threading.Thread(target=self._work, name=f"executor-{len(self._workers) + 1}", daemon=True)
        self._workers.append(thread)
        thread.start()

    def _startable(self) -> int:
        """How many waiting runs a worker may take now. Called with self._cond held."""
        room = self.backfill_workers - self._backfills_running
        return len(self._queue) + max(0, min(room, len(self._backfill_queue)))

    def _next_job(self) -> _Job | None:
        """The run a free worker takes: the oldest on-time one, else the oldest backfill run if backfills are under
        their share of the pool. Called with self._cond held."""
        if self._queue:
            return self._queue.popleft()
        if self._backfill_queue and self._backfills_running < self.backfill_workers:
            self._backfills_running += 1
            return self._backfill_queue.popleft()
        return None

    def _work(self):
        while True:
            with self._cond:
                while (job := self._next_job()) is None and not self._closed:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                if job is None:
                    return
                job.started = True
            self._run(job)

    def _run(self, job: _Job):
        execution = job.execution
        try:
            result = run_execution(execution, job.stop, job.on_start)
        except BaseException as exc:  # the pool must outlive any bug; the run is reported as failed
            log.exception("Executor error in execution %s", execution.execution_id)
            result = not_started(execution, f"executor error: {exc!r}")
        finally:
            job.stop.close()
        with self._cond:
            self._jobs.pop(execution.execution_id, None)
            if is_backfill(execution):
                self._backfills_running -= 1  # this worker takes the next one itself if none other waits
            if result.status == ExecutionStatus.STOPPED and job.stop.reason == SHUTDOWN_REASON:
                self._stopped_for_shutdown.append(execution.execution_id)
        self._finish(job, result)

    @staticmethod
    def _finish(job: _Job, result: RunResult):
        try:
            job.on_finish(job.execution, result)
        except BaseException:
            log.exception("on_finish failed for execution %s", job.execution.execution_id)

    # Reports of runs stopped before they started.

    def _report_later(self, job: _Job, message: str):
        """Called with self._cond held."""
        job.stop.close()
        self._reports.append((job, not_started(job.execution, message, ExecutionStatus.STOPPED)))
        if self._reporter is None:
            self._reporter = threading.Thread(target=self._report, name="executor-reports", daemon=True)
            self._reporter.start()
        self._cond.notify_all()

    def _report(self):
        while True:
            with self._cond:
                while not self._reports and not self._closed:
                    self._cond.wait()
                if not self._reports:
                    return
                job, result = self._reports.popleft()
            self._finish(job, result)

    @staticmethod
    def _join(threads, timeout: float):
        deadline = time.monotonic() + max(0.0, timeout)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
