"""EndRecorder: records how runs ended, one transaction per batch of results from the executor: each result,
the retry a failure earns (policy.retry_after), the run waiting behind the one that ended, the task's status;
then the Dispatcher carries out what follows (start the waiting run, send the notices). A batch the database
refuses is kept and tried again on the next round. In a stream of ends (a burst) they are gathered for GATHER
seconds after the last batch: a transaction per end or two was a quarter of the engine thread's time then."""
import logging
import time

from django.db import Error as DatabaseError  # also InterfaceError: a connection the server dropped
from django.db import transaction
from django.utils import timezone

from tasks_app.models import ExecutionStatus, Pause, Task

from . import bookkeeping as bk
from . import facts, policy
from .plan import Plan

log = logging.getLogger("Scheduler")

GATHER = 0.05  # seconds: ends reported within this time of the last batch wait to be recorded with the next ones
GATHER_AT_MOST = 64  # ends: so many waiting are recorded at once


class EndRecorder:
    def __init__(self, registry, dispatcher, trouble, worker: str, node: str | None = None):
        self.registry = registry
        self.dispatcher = dispatcher
        self.trouble = trouble
        self.worker = worker
        self.node = worker if node is None else node  # as Starter.node
        self.unrecorded = []  # results whose commit failed: tried again on the next call
        self._gather_until = 0.0  # monotonic: ends reported before then wait for the next batch

    def record(self, start_waiting=True, gather=False) -> Plan | None:
        """Record the runs that ended since the last call; returns the plan carried out, or None if there
        was nothing to record (or, with gather, the ends wait for more: due_in() says until when) or the database
        refused. start_waiting False (shutting down): a run waiting behind one that ended does not start; the
        shutdown records it as never started."""
        if gather and not self.unrecorded and self.due_in() > 0:
            return None
        batch = self.unrecorded + self.dispatcher.take_finished()
        if not batch:
            return None
        self._gather_until = time.monotonic() + GATHER
        try:
            with transaction.atomic():
                plan = self._end_batch(batch, timezone.now(), start_waiting)
        except DatabaseError as exc:
            self.unrecorded = batch
            self.trouble.failed("recording ended runs", exc)
            return None
        self.trouble.ok("recording ended runs")
        self.unrecorded = []
        for execution, _ in batch:
            self.dispatcher.forget(execution)
        self.dispatcher.carry_out(plan)
        return plan

    def due_in(self) -> float:
        """Seconds until the ends reported are to be recorded (0: now; inf: none waits; a batch the database refused
        is tried again on the next round, as before). A lone end is recorded at once; one reported within GATHER of
        the last batch waits for the rest of that time, or until GATHER_AT_MOST wait."""
        waiting = self.dispatcher.finished_waiting()
        if not waiting:
            return float("inf")
        if waiting >= GATHER_AT_MOST:
            return 0.0
        return max(0.0, self._gather_until - time.monotonic())

    def _end_batch(self, batch, now, start_waiting) -> Plan:
        """Inside a transaction: record each result, queue retries, start runs waiting behind them."""
        plan = Plan()
        registry = self.registry
        ended, statuses = set(), []
        # Written with the statuses below (one statement on PostgreSQL); nothing in between reads these rows' ends.
        ended_rows = bk.ended_rows([(e, r, registry.stopped_by.get(e.pk, "")) for e, r in batch])
        for execution, result in batch:
            task = execution.task
            ended.add(execution.pk)
            retry = None
            again = (result.status in policy.RETRYABLE and execution.pk not in registry.stopping
                     and facts.retry_after(execution))
            if again:
                interval, retries = again
                retry = bk.new_retry(execution, end_time=result.end_time, interval=interval)
                plan.retry_at = min(plan.retry_at, retry.not_before.timestamp())
                log.info("Task %s: execution %s %s; attempt %s of %s queued as execution %s for %s",
                         task.task_id, execution.pk, result.status, retry.attempt, retries + 1,
                         retry.pk, retry.not_before.isoformat())
            others = registry.busy(execution.task_id) - ended
            waiting = registry.waiting_for(execution.task_id) if start_waiting else None
            if waiting is not None and not others and execution.task_id not in plan.unwait:
                plan.unwait.append(execution.task_id)
                self._start_waiting(waiting, now, plan)
            statuses.append((execution, bool(others) or plan.started.get(execution.task_id, 0) > 0))
            if retry is None:
                plan.notify.append(execution)  # the notifier decides from task_notify whether to tell
            if result.status == ExecutionStatus.SUCCESS:
                plan.chain_from.append(task.task_id)
        bk.ends_and_statuses(ended_rows, statuses)
        bk.status_started_many(plan.started, now=now)
        return plan

    def _start_waiting(self, waiting, now, plan: Plan):
        """Start the run held back behind the one that ended, with its task as it is now: it may have been
        edited, disabled or deleted (its executions with it) during the wait, which can be hours."""
        task = Task.objects.filter(pk=waiting.task_id).first()
        if task is None:
            return
        waiting.task = task
        if not task.task_enabled and not policy.asked_by_a_user(waiting.requested_by):
            reason = "the task was disabled while this run waited (task_overlap: queue)"
            if bk.skip_queued(waiting, now=now, worker=self.worker, reason=reason, held=True):
                log.info("Task %s: waiting execution %s skipped: %s", task.task_id, waiting.pk, reason)
            return
        # A pause begun while it waited holds it back as it would have held back its slot or its call.
        pause = (Pause.objects.covering(task.task_tags, now)
                 if waiting.trigger in policy.PAUSED_TRIGGERS else None)
        if pause is not None:
            if bk.skip_queued(waiting, now=now, worker=self.worker, reason=pause.reason_text(), held=True):
                log.info("Task %s: waiting execution %s skipped: %s", task.task_id, waiting.pk, pause.reason_text())
            return
        if bk.start_waiting(waiting, now=now, node=self.node):
            plan.add_run(waiting)
