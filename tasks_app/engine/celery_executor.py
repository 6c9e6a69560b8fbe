"""CeleryExecutor: the scheduler's side of SCHEDULER_EXECUTOR=celery. submit() sends a message holding only the
execution id to the task's queue (task_queue); a worker claims the run in the database, runs it with the same
runner as the local executor and writes its end there itself (workers/). On every tick the engine calls follow(),
which reads what became of the runs sent: an end goes to on_finish, so that EndRecorder does the retries,
chains, waiting runs and notices exactly as for a local run; a run no worker has started is sent again
(SCHEDULER_RESEND_AFTER); and every 5 s the runs of workers whose heartbeat stopped are recorded lost.

Backfill runs yield to on-time runs, as in the local executor: the runs of backfills sent to a queue and not ended
are at most the threads of the live workers serving it less one (at least one), and the rest wait here, unsent,
so a worker's thread is free when a scheduled run comes due in the middle of a backfill (each worker takes only
as many messages as it has free threads: workers/node.py).

Only the engine thread calls it (the Sender's thread publishes), so the runs it follows need no lock."""
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone

from tasks_app.models import ExecutionStatus, TaskExecution, Worker
from tasks_app.models.worker import HEARTBEAT_EVERY, lost_after

from . import bookkeeping as bk
from .policy import is_backfill
from .runner import RunResult, not_started
from .sender import Sender

log = logging.getLogger("TaskExecutor")

TASK_NAME = "tasks_app.run_execution"  # the worker's task (workers/task.py)
RESEND_AT_MOST = 3600.0  # seconds: the longest wait between two sends of a run nobody starts
FOLLOW_BATCH = 5000  # ids per query when reading the runs followed


class CeleryConfigurationError(ValueError):
    """The settings cannot work with Celery; the message says which and why."""


def check_configuration() -> None:
    """The scheduler and every worker share one database and one broker: refuse to start without them."""
    if connection.vendor != "postgresql":
        raise CeleryConfigurationError(
            "SCHEDULER_EXECUTOR=celery needs PostgreSQL (DATABASE_URL=postgres://user:password@host:5432/name): "
            f"the scheduler and the workers on other machines share one database, and this one is {connection.vendor}")
    if not settings.CELERY_BROKER_URL:
        raise CeleryConfigurationError(
            "SCHEDULER_EXECUTOR=celery needs CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/0 or "
            "amqp://user:password@127.0.0.1:5672//")


@dataclass(eq=False)
class Flight:
    """A run sent to the workers and not ended yet."""
    execution: object
    on_finish: object
    queue: str
    resend_after: float
    sent_at: float | None = None  # monotonic; set by the Sender's thread once the broker has the message
    started: bool = False  # a worker has claimed it
    stop_reason: str = ""  # why this scheduler asked it to stop
    backfill: bool = False
    held: bool = False  # a backfill run waiting here for room on its queue's workers, not sent yet


class CeleryExecutor:
    runs_elsewhere = True
    prepares = False  # a Celery worker prepares each run itself

    def __init__(self, app=None, resend_after=None):
        check_configuration()
        if app is None:
            from scheduler_site.celery import app
        self.resend_after = float(resend_after if resend_after is not None else settings.SCHEDULER_RESEND_AFTER)
        self.sender = Sender(app, TASK_NAME)
        self._flights: dict[int, Flight] = {}
        self._closed = False
        self._next_lost_check = 0.0
        self._last_follow = None  # monotonic
        self._in_touch_since = 0.0  # monotonic: since when follow() has been called without a gap
        self._held: dict[str, deque[Flight]] = {}  # per queue, in the order submitted
        self._backfills_out: Counter[str] = Counter()  # per queue: backfill runs sent and not ended
        self._threads: dict[str, int] | None = None  # per queue: the live workers' threads (read every 5 s)

    # The Executor interface.

    def submit(self, execution, on_start, on_finish) -> None:
        if self._closed:
            raise RuntimeError("the executor is shut down and takes no more work")
        if execution.pk in self._flights:
            raise ValueError(f"execution {execution.pk} was already submitted")
        flight = Flight(execution, on_finish, execution.task.task_queue, self.resend_after,
                        backfill=is_backfill(execution))
        self._flights[execution.pk] = flight
        if flight.backfill:
            flight.held = True
            self._held.setdefault(flight.queue, deque()).append(flight)
            self._release(flight.queue)
        else:
            self.sender.send(flight)

    def submit_many(self, executions, on_start, on_finish) -> list:
        """Each run is its own message to the broker: handed over one by one."""
        refused = []
        for execution in executions:
            try:
                self.submit(execution, on_start, on_finish)
            except Exception as exc:  # the others still go; the dispatcher records this one as not started
                refused.append((execution, exc))
        return refused

    def adopt(self, execution, on_start, on_finish) -> None:
        """A run the previous scheduler sent: it may still wait in the broker, so it is sent again only
        if no worker starts it within SCHEDULER_RESEND_AFTER, as if it had been sent now."""
        flight = Flight(execution, on_finish, execution.task.task_queue, self.resend_after,
                        sent_at=time.monotonic(), started=bool(execution.node), backfill=is_backfill(execution))
        self._flights[execution.pk] = flight
        if flight.backfill:
            self._backfills_out[flight.queue] += 1

    def stop(self, execution_id: int, reason: str) -> bool:
        """The worker running it acts on the row's stop request (workers/watch.py); a run no worker has
        claimed yet is ended here, and a worker's claim of it then fails."""
        flight = self._flights.get(execution_id)
        if flight is None:
            return False
        flight.stop_reason = reason
        # A user's stop is already in the row; the scheduler's own (task_overlap "replace") is written here.
        TaskExecution.objects.filter(pk=execution_id, stop_requested_by="").update(stop_requested_by="scheduler")
        now = timezone.now()
        message = f"stopped: {reason}" if reason else "stopped"
        if TaskExecution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING, node="").update(
                status=ExecutionStatus.STOPPED, start_time=now, end_time=now, duration=0.0, error_message=message):
            log.info("Execution %s stopped before a worker started it (%s)", execution_id, reason)
            self._finish(execution_id, not_started(flight.execution, message, ExecutionStatus.STOPPED))
        return True

    def running(self) -> set[int]:
        return set(self._flights)

    def shutdown(self, grace: float) -> list[int]:
        """The runs go on on their workers (the next scheduler adopts them): only the sending stops. A message
        not sent by then is sent by the next scheduler once SCHEDULER_RESEND_AFTER has passed."""
        self._closed = True
        unsent = self.sender.close(timeout=min(grace, 5.0))
        unsent += [flight for held in self._held.values() for flight in held]
        if unsent:
            log.warning("%d run(s) were not sent to the broker before the scheduler stopped: %s", len(unsent),
                        sorted(flight.execution.pk for flight in unsent))
        return []

    # What became of the runs sent (the engine thread, every tick).

    def follow(self) -> None:
        now = time.monotonic()
        # A gap means the database (or this scheduler) was away: the workers get two heartbeats to write theirs
        # before any of them is judged dead, or an outage of everyone would make every run lost.
        if self._last_follow is None or now - self._last_follow > HEARTBEAT_EVERY:
            self._in_touch_since = now
        self._last_follow = now
        if self._flights:
            self._read_runs(now)
        if now >= self._next_lost_check and now - self._in_touch_since >= 2 * HEARTBEAT_EVERY:
            self._next_lost_check = now + HEARTBEAT_EVERY
            self._record_lost_runs()
            if self._held:  # workers come and go: the room for backfills with them
                self._threads = None
                for queue in list(self._held):
                    self._release(queue)

    def _read_runs(self, now: float) -> None:
        ids = list(self._flights)
        seen, ended = set(), []
        for start in range(0, len(ids), FOLLOW_BATCH):
            rows = TaskExecution.objects.filter(pk__in=ids[start:start + FOLLOW_BATCH]).values_list(
                "pk", "status", "node")
            for pk, status, node in rows:
                seen.add(pk)
                flight = self._flights[pk]
                if status not in ExecutionStatus.active():
                    ended.append(pk)
                elif node:
                    if flight.held:  # a message sent before it was held again reached a worker after all
                        self._unhold(flight)
                        self._backfills_out[flight.queue] += 1
                    flight.started = True
                elif flight.held:
                    continue
                elif flight.sent_at is not None and now - flight.sent_at >= flight.resend_after:
                    if flight.backfill:
                        self._hold_again(flight, now)
                    else:
                        self._send_again(flight, now)
        for pk in set(ids) - seen:  # its task was deleted, and its executions with it
            self._finish(pk, not_started(self._flights[pk].execution, "its task was deleted while it ran",
                                         ExecutionStatus.STOPPED))
        if ended:
            for row in TaskExecution.objects.filter(pk__in=ended):
                self._finish(row.pk, result_of(row), node=row.node)

    def _send_again(self, flight: Flight, now: float) -> None:
        log.warning("Execution %s of task %s was not started by any worker %.0f s after it was sent to queue %s: "
                    "sending it again (it starts once, whichever message a worker takes)", flight.execution.pk,
                    flight.execution.task.task_id, now - flight.sent_at, flight.queue)
        flight.sent_at = None
        flight.resend_after = min(flight.resend_after * 2, RESEND_AT_MOST)
        self.sender.send(flight)

    def _hold_again(self, flight: Flight, now: float) -> None:
        """A backfill run no worker started in time, most often one a stopped scheduler held and never sent: it
        waits for room on its queue like any backfill run, first in line, so the runs a successor adopts never
        take the threads the cap keeps for on-time runs."""
        log.info("Backfill execution %s of task %s was not started by any worker %.0f s after it was sent (or "
                 "adopted): sent again when its queue %s has room", flight.execution.pk,
                 flight.execution.task.task_id, now - flight.sent_at, flight.queue)
        flight.sent_at = None
        flight.resend_after = min(flight.resend_after * 2, RESEND_AT_MOST)
        flight.held = True
        self._backfills_out[flight.queue] -= 1
        self._held.setdefault(flight.queue, deque()).appendleft(flight)
        self._release(flight.queue)

    def _unhold(self, flight: Flight) -> None:
        flight.held = False
        self._held[flight.queue].remove(flight)
        if not self._held[flight.queue]:
            del self._held[flight.queue]

    def _finish(self, pk: int, result: RunResult, node: str = "") -> None:
        flight = self._flights.pop(pk)
        if flight.held:
            self._unhold(flight)
        elif flight.backfill:
            self._backfills_out[flight.queue] -= 1
            self._release(flight.queue)
        if result.status == ExecutionStatus.STOPPED and flight.stop_reason:
            result.error_message = f"stopped: {flight.stop_reason}"  # the worker only saw "scheduler"
        if node:
            flight.execution.node = node
        flight.on_finish(flight.execution, result)

    # Backfill runs held until their queue's workers have room.

    def _release(self, queue: str) -> None:
        held = self._held.get(queue)
        if not held or self._closed:
            return
        room = max(1, self._queue_threads(queue) - 1) - self._backfills_out[queue]
        while held and room > 0:
            flight = held.popleft()
            flight.held = False
            self._backfills_out[queue] += 1
            self.sender.send(flight)
            room -= 1
        if not held:
            del self._held[queue]

    def _queue_threads(self, queue: str) -> int:
        if self._threads is None:
            self._threads = Counter()
            for queues, concurrency in Worker.objects.alive().values_list("queues", "concurrency"):
                for name in set(queues or ()):
                    self._threads[name] += concurrency
        return self._threads[queue]

    def _record_lost_runs(self) -> None:
        """Runs whose worker is dead become lost (the EndRecorder then retries them per task_retry). The
        scheduler decides it, not the workers: it is the one process that is always there to follow every
        run, and one judge means no two workers ever argue over who is dead. A run claimed by a worker whose
        record is missing (deleted) counts only once it is older than WORKER_LOST_AFTER."""
        alive = Worker.objects.alive().filter(name=OuterRef("node"))
        known = Worker.objects.filter(name=OuterRef("node"))
        rows = list(TaskExecution.objects.filter(status=ExecutionStatus.RUNNING).exclude(node="")
                    .exclude(Exists(alive)).filter(Q(Exists(known)) | Q(start_time__lt=Now() - lost_after()))
                    .values_list("pk", "node", "start_time"))
        if not rows:
            return
        workers = {w.name: w for w in Worker.objects.filter(name__in={node for _, node, _ in rows})}
        now = timezone.now()
        lost_by_node = {}
        for pk, node, start in rows:
            reason = lost_reason(node, workers.get(node))
            duration = round(max(0.0, (now - start).total_seconds()), 3) if start else 0.0
            if not TaskExecution.objects.filter(pk=pk, status=ExecutionStatus.RUNNING, node=node).update(
                    status=ExecutionStatus.LOST, error_message=reason, end_time=now, duration=duration):
                continue  # it ended meanwhile
            lost_by_node.setdefault((node, reason), []).append(pk)
            result = RunResult(ExecutionStatus.LOST.value, None, reason, start or now, now, duration, False, None)
            if pk in self._flights:
                self._finish(pk, result, node=node)
            else:  # not one of ours (a scheduler of another executor left it): no retry, its status still told
                execution = TaskExecution.objects.get(pk=pk)
                bk.statuses_ended([(execution, False)])
        for (node, reason), pks in lost_by_node.items():
            log.warning("Runs %s are lost: %s", ", ".join(map(str, pks)), reason)


def lost_reason(node: str, worker) -> str:
    if worker is None:
        return f"worker {node} is unknown (its record is gone) and this run never reported its end"
    if worker.stopped_at is not None:
        return f"worker {node} shut down before this run reported its end"
    last = worker.last_heartbeat.astimezone(dt_timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (f"worker {node} stopped sending heartbeats (the last at {last}; WORKER_LOST_AFTER is "
            f"{settings.WORKER_LOST_AFTER} s): the run was lost with it")


def result_of(row) -> RunResult:
    """The end a worker wrote into an execution's row, as the runner reported it there."""
    return RunResult(row.status, row.return_code, row.error_message, row.start_time or row.end_time, row.end_time,
                     row.duration or 0.0, row.output_truncated, row.pid, row.leftover_processes, row.run_as,
                     row.limits)
