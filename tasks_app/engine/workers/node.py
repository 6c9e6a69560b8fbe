"""WorkerNode: one Celery worker process as the product sees it. It keeps its Worker record and writes the heartbeat
every 5 s, runs each execution it is sent through the same runner as the local executor (claim first, then
acknowledge the message), keeps the StopSignal of every run in hand for the stop watcher, keeps the broker's
prefetch to its free threads, and on a warm shutdown lets its runs finish within SCHEDULER_STOP_GRACE, then
stops them. The task log and the captured output of a run are written on this machine by the runner's tasklog.py
and output.py as for a local run, and shipped to the database as they grow (shipper.py: central logs)."""
import logging
import os
import platform
import socket
import threading
import time

from django.conf import settings
from django.db import Error as DatabaseError  # also InterfaceError: a connection the server dropped
from django.db import close_old_connections
from django.db.models.functions import Now
from django.utils import timezone

from tasks_app.models import Worker
from tasks_app.models.worker import HEARTBEAT_EVERY

from ..runner import StopSignal, not_started, run_execution
from ..trouble import DatabaseTrouble
from . import runs
from .shipper import LogShipper

log = logging.getLogger("TaskExecutor")

CLAIM_RETRY_PAUSE = 1.0  # seconds before a message whose run could not be claimed (database down) goes back


class WorkerNode:
    def __init__(self, *, hostname: str, queues, concurrency: int, tick: float | None = None,
                 stop_grace: float | None = None):
        self.hostname = hostname
        self.name = f"{hostname}:{os.getpid()}"[:200]  # TaskExecution.node of the runs it claims
        self.queues = sorted(queues)
        self.concurrency = concurrency
        self.tick = float(tick if tick is not None else settings.SCHEDULER_TICK)
        self.stop_grace = float(stop_grace if stop_grace is not None else settings.SCHEDULER_STOP_GRACE)
        self.started_at = timezone.now()
        self.closing = False
        self.trouble = DatabaseTrouble()
        self._lock = threading.Lock()
        self._runs: dict[int, StopSignal] = {}  # execution id -> its stop, for the runs going here
        self._stopped_here: dict[int, str] = {}  # execution id -> who stopped it here (the shutdown)
        self._pending_ends = []  # (execution, result, stopped_by) whose end could not be written yet
        self._consumer = None
        self._prefetch_taken: set[int] = set()
        self._waker = HubWaker()
        self._done = threading.Event()
        self._threads = []
        self._grace_timer = None
        self.shipper = LogShipper(self)

    # Life.

    def start(self) -> None:
        """Register the worker (its record says which queues it serves) and start its heartbeat and stop
        watcher. A database that cannot be reached now is tried again by the heartbeat."""
        try:
            self._register()
        except DatabaseError as exc:
            self.trouble.failed("registering the worker", exc)
        from .watch import StopWatcher

        watcher = StopWatcher(self)
        for target, name in ((self._heartbeats, "worker-heartbeat"), (watcher.run, "worker-stop-watcher"),
                             (self.shipper.run, "worker-log-shipper")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("Worker %s serves queue(s) %s with %d thread(s)", self.name, ", ".join(self.queues),
                 self.concurrency)

    def begin_shutdown(self) -> None:
        """SIGTERM (warm shutdown): no new run starts here; those going get SCHEDULER_STOP_GRACE s to finish."""
        with self._lock:
            if self.closing:
                return
            self.closing = True
            count = len(self._runs)
        log.info("Worker %s shutting down: %d run(s) in progress get up to %s s to finish", self.name, count,
                 self.stop_grace)
        self._grace_timer = threading.Timer(self.stop_grace, self._stop_all)
        self._grace_timer.daemon = True
        self._grace_timer.start()

    def close(self) -> None:
        """After the pool has ended: stop the threads, write what is left, record the worker stopped."""
        self.closing = True
        if self._grace_timer is not None:
            self._grace_timer.cancel()
        self._done.set()
        for thread in self._threads:
            thread.join(10)
        try:
            close_old_connections()
            self.shipper.ship_round()  # what the database refused at a run's end, before that end is written
            self._write_pending_ends()
            Worker.objects.filter(name=self.name).update(stopped_at=Now(), last_heartbeat=Now())
        except DatabaseError as exc:
            log.warning("Worker %s could not record its stop (%s): the scheduler finds it lost", self.name, exc)
        log.info("Worker %s stopped", self.name)

    def running(self) -> dict[int, StopSignal]:
        with self._lock:
            return dict(self._runs)

    # One run.

    def run(self, execution_id: int, request) -> str:
        """What the Celery task does with its message: claim the run, acknowledge, run it, record its end."""
        if self.closing:
            self._settle(request.reject, requeue=True)  # another worker takes it
            return "requeued: this worker is shutting down"
        try:
            close_old_connections()
            execution = runs.claim(execution_id, self.name)
        except DatabaseError as exc:
            self.trouble.failed("claiming runs", exc)
            time.sleep(CLAIM_RETRY_PAUSE)  # not at once, or the message would go round and round
            self._settle(request.reject, requeue=True)
            return "requeued: the database could not be reached"
        if execution is None:
            why = runs.why_not_claimed(execution_id)
            self._settle(request.acknowledge)
            log.info("Execution %s not started on %s: %s", execution_id, self.name, why)
            return f"not started: {why}"
        stop = StopSignal()
        with self._lock:
            self._runs[execution_id] = stop
            self._take_prefetch(execution_id)
        # The claim is made: the broker may forget the message, so a long run is never delivered again.
        self._settle(request.acknowledge)
        log.info("Task %s: execution %s starts on %s (attempt %s)", execution.task.task_id, execution_id, self.name,
                 execution.attempt)
        self._ship("begin", execution)
        try:
            try:
                result = run_execution(execution, stop)
            except BaseException as exc:  # the worker must outlive any bug; the run is recorded as failed
                log.exception("Worker error in execution %s", execution_id)
                result = not_started(execution, f"worker error: {exc!r}")
            # All of the run's log and output is in the database before its end is: whoever sees it ended finds it.
            self._ship("finish", execution, result.output_truncated)
        finally:
            stop.close()
            with self._lock:
                self._runs.pop(execution_id, None)
                self._give_prefetch(execution_id)
                stopped_by = self._stopped_here.pop(execution_id, "")
            self._waker.wake()
        self._write_end(execution, result, stopped_by)
        return result.status

    def _ship(self, step, execution, *args):
        """The shipper's begin or finish of a run; a failure to ship never fails the run (its files are here)."""
        try:
            close_old_connections()
            getattr(self.shipper, step)(execution, *args)
        except DatabaseError as exc:
            self.trouble.failed("shipping run logs", exc)
        except Exception:
            log.exception("Shipping the log of execution %s failed", execution.pk)

    def _write_end(self, execution, result, stopped_by):
        try:
            close_old_connections()
            if not runs.record_end(execution, result, self.name, stopped_by):
                log.warning("Execution %s ended %s on %s, but the database no longer holds it as this worker's "
                            "running run (%s): what the database says stays", execution.pk, result.status,
                            self.name, runs.why_not_claimed(execution.pk))
        except DatabaseError as exc:
            self.trouble.failed("recording ended runs", exc)
            with self._lock:
                self._pending_ends.append((execution, result, stopped_by))

    def _write_pending_ends(self):
        with self._lock:
            pending, self._pending_ends = self._pending_ends, []
        for execution, result, stopped_by in pending:
            self._write_end(execution, result, stopped_by)

    def _stop_all(self):
        reason = f"worker {self.name} shutting down"
        with self._lock:
            going = dict(self._runs)
            for pk in going:
                self._stopped_here.setdefault(pk, self.name)
        if going:
            log.warning("Worker %s stops %d run(s) still going after %s s: %s", self.name, len(going),
                        self.stop_grace, sorted(going))
        for stop in going.values():
            stop.set(reason)

    def stop_run(self, execution_id: int, reason: str) -> None:
        """From the stop watcher."""
        with self._lock:
            stop = self._runs.get(execution_id)
        if stop is not None and not stop.is_set():
            log.info("Stopping execution %s on %s: %s", execution_id, self.name, reason)
            stop.set(reason)

    # Record and heartbeat.

    def _register(self):
        Worker.objects.update_or_create(name=self.name, defaults=dict(
            hostname=self.hostname[:200], host=socket.gethostname()[:255], pid=os.getpid(), queues=self.queues,
            concurrency=self.concurrency, version=version(), started_at=self.started_at, last_heartbeat=Now(),
            stopped_at=None))

    def beat(self) -> None:
        """One heartbeat (the record is written again if it went missing), and the ends still to write."""
        try:
            close_old_connections()
            if not Worker.objects.filter(name=self.name).update(last_heartbeat=Now()):
                self._register()
        except DatabaseError as exc:
            self.trouble.failed("writing the worker's heartbeat", exc)
            return
        self.trouble.ok("writing the worker's heartbeat")
        self._write_pending_ends()

    def _heartbeats(self):
        while not self._done.wait(HEARTBEAT_EVERY):
            self.beat()

    # The broker's prefetch: a run acknowledged at its start no longer counts against it, so the worker takes
    # one slot back while it runs (never below 1), or it would reserve messages no thread of it is free for.

    def _settle(self, how, **kwargs):
        """Acknowledge or reject a message, then wake the consumer's loop: it would otherwise ask the broker
        for the next message only at its next timer, up to 2 s later (Redis), as it does not see the
        threads of the pool."""
        how(**kwargs)
        self._waker.wake()

    def consumer_ready(self, consumer) -> None:
        """The consumer (re)started with a fresh prefetch count: take back the slots of the runs going."""
        self._waker.attach(getattr(consumer, "hub", None))
        with self._lock:
            self._consumer = consumer
            self._prefetch_taken.clear()
            for execution_id in self._runs:
                self._take_prefetch(execution_id)

    def _take_prefetch(self, execution_id):
        qos = getattr(self._consumer, "qos", None)
        if qos is not None and qos.value > 1:
            qos.decrement_eventually()
            self._prefetch_taken.add(execution_id)

    def _give_prefetch(self, execution_id):
        qos = getattr(self._consumer, "qos", None)
        if qos is not None and execution_id in self._prefetch_taken:
            self._prefetch_taken.discard(execution_id)
            qos.increment_eventually()


def version() -> str:
    import celery

    return f"celery {celery.__version__}, Python {platform.python_version()}"


class HubWaker:
    """An eventfd in the consumer's event loop, written by a pool thread to make the loop go round now."""

    def __init__(self):
        self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    def attach(self, hub) -> None:
        if hub is not None:
            hub.add_reader(self.fd, self._drain)

    def wake(self) -> None:
        os.eventfd_write(self.fd, 1)

    def _drain(self, *args) -> None:
        try:
            os.eventfd_read(self.fd)
        except BlockingIOError:
            pass
