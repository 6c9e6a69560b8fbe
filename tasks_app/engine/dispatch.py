"""Starting and ending runs, for SchedulerEngine: turns fires, claims and chain triggers into executions
(one transaction per batch, with the overlap, dependency and missed-slot rules), and records how runs
ended (one transaction per batch, with retries, the overlap queue and dependency chains)."""
import heapq
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction

from tasks_app.models import ExecutionStatus, Task, TaskExecution, Trigger

from . import bookkeeping as bk
from . import facts, policy
from .notify import notify_execution_later
from .runner import not_started

log = logging.getLogger("Scheduler")

# A run is claimed at most scheduler.AHEAD (0.1 s) before its slot and held until then. Held for longer than
# this, the clock was set back meanwhile: the run starts at once rather than when the clock comes round again.
HELD_AT_MOST = 1.0  # seconds


@dataclass
class StartRequest:
    """A reason to start a task now: a cron fire (with slots missed before it), a chain, ..."""
    task_id: str
    trigger: str
    slot: datetime | None = None
    missed: policy.Missed | None = None  # slots that will not run: one skipped execution records them
    requested_by: str = policy.SCHEDULER
    next_run_time: datetime | None = None
    set_next: bool = False
    fired: bool = False  # an APScheduler fire: its job's new next run time is written with it


@dataclass
class Plan:
    """What to do once a transaction has committed (never before: a rollback must leave no trace)."""
    run: list = field(default_factory=list)
    wait: list = field(default_factory=list)
    unwait: list = field(default_factory=list)
    stop: list = field(default_factory=list)
    notify: list = field(default_factory=list)
    chain_from: list = field(default_factory=list)
    started: dict = field(default_factory=dict)  # task pk -> runs started in this batch
    waiting: set = field(default_factory=set)
    rows: list = field(default_factory=list)  # (kind, unsaved TaskExecution) decided, to insert
    next_runs: dict = field(default_factory=dict)  # task pk -> next fire time for TaskStatus


class DispatchMixin:
    # Starting.

    def _start_requests(self, requests, claims, now) -> Plan:
        """Inside a transaction: decide every start and write them all (a few statements for the whole
        batch, so a midnight burst of 1,000 fires is one short transaction); returns the plan to carry out
        after commit."""
        plan = Plan()
        wanted = {r.task_id for r in requests}
        tasks = {t.task_id: t for t in Task.objects.filter(task_id__in=wanted)} if wanted else {}
        for request in requests:
            task = tasks.get(request.task_id)
            if task is None:
                log.info("Task %s is gone; nothing started for it", request.task_id)
                continue
            self._decide(request, task, now, plan)
        self._insert(plan, now)
        if claims:
            for execution in TaskExecution.objects.filter(
                pk__in=claims, status=ExecutionStatus.QUEUED, worker=""
            ).select_related("task").order_by("execution_id"):
                self._claim_one(execution, now, plan)
        bk.status_started_many(plan.started, now=now)
        bk.status_next_many(plan.next_runs)
        return plan

    def _decide(self, request: StartRequest, task, now, plan: Plan):
        def row(kind, slot, **fields):
            plan.rows.append((kind, TaskExecution(
                task=task, trigger=request.trigger, scheduled_time=slot, worker=self.worker,
                requested_by=request.requested_by, **fields)))

        def skip(slot, reason, kind="skip"):
            row(kind, slot, status=ExecutionStatus.SKIPPED, start_time=now, end_time=now, duration=0.0,
                error_message=reason)

        if request.trigger in (Trigger.SCHEDULE, Trigger.DEPENDENCY) and not task.task_enabled:
            log.info("Task %s was disabled a moment ago; its %s run does not start", task.task_id, request.trigger)
            return  # the change marker makes the next tick remove its job
        if request.missed:
            reason = policy.missed_reason(request.missed, task.timezone_name, task.task_misfire_grace,
                                          ran_latest=request.slot is not None)
            skip(request.missed.last, reason, kind="missed")
        if request.set_next:
            plan.next_runs[task.pk] = request.next_run_time
        if request.trigger == Trigger.SCHEDULE and request.slot is None:
            return  # every due slot was missed: recorded above
        if request.trigger == Trigger.DEPENDENCY and not facts.chain_ready(task):
            return
        if request.trigger == Trigger.SCHEDULE and task.task_dependencies:
            problem = facts.dependency_problem(task)
            if problem:
                skip(request.slot, problem, kind="dependency")
                return
        action, detail = self._overlap(task, plan)
        if action == "skip":
            skip(request.slot, detail)
        elif action == "run":
            row("run", request.slot, status=ExecutionStatus.RUNNING, start_time=max(now, request.slot or now))
            plan.started[task.pk] = plan.started.get(task.pk, 0) + 1
        else:
            row("wait", request.slot, status=ExecutionStatus.QUEUED)
            self._wait_behind(task, detail, now, plan)

    def _insert(self, plan: Plan, now):
        """Write the decided rows. A cron slot that already has an execution is not run again (the unique
        constraint guarantees it; the query first keeps one taken slot from failing the whole insert)."""
        if not plan.rows:
            return
        slots = [(e.task_id, e.scheduled_time) for _, e in plan.rows
                 if e.trigger == Trigger.SCHEDULE and e.scheduled_time is not None]
        taken = set()
        if slots:
            taken = set(TaskExecution.objects.filter(
                trigger=Trigger.SCHEDULE, task_id__in={t for t, _ in slots},
                scheduled_time__in={moment for _, moment in slots},
            ).values_list("task_id", "scheduled_time"))
        rows, seen = [], set()
        for kind, execution in plan.rows:
            key = (execution.task_id, execution.scheduled_time)
            if execution.trigger == Trigger.SCHEDULE and execution.scheduled_time is not None:
                if key in taken or key in seen:
                    log.info("Task %s: slot %s already has an execution; not run again",
                             execution.task.task_id, execution.scheduled_time.isoformat())
                    self._undo_start(kind, execution, plan)
                    continue
                seen.add(key)
            rows.append((kind, execution))
        try:
            with transaction.atomic():  # a savepoint: should a slot be taken after all, fall back row by row
                TaskExecution.objects.bulk_create([e for _, e in rows], batch_size=500)
        except IntegrityError:
            kept = []
            for kind, execution in rows:
                try:
                    with transaction.atomic():
                        execution.save(force_insert=True)
                    kept.append((kind, execution))
                except IntegrityError:
                    execution.pk = None
                    self._undo_start(kind, execution, plan)
            rows = kept
        for kind, execution in rows:
            if kind == "run":
                plan.run.append(execution)
            elif kind == "wait":
                plan.wait.append(execution)
            elif kind == "missed":
                log.warning("Task %s: %s", execution.task.task_id, execution.error_message)
            else:
                log.info("Task %s skipped: %s", execution.task.task_id, execution.error_message)
                if kind == "dependency":
                    plan.notify.append(execution)  # the document's dependency error: on_failure is told

    @staticmethod
    def _undo_start(kind, execution, plan):
        if kind == "run":
            plan.started[execution.task_id] -= 1
            if not plan.started[execution.task_id]:
                del plan.started[execution.task_id]
        elif kind == "wait":
            plan.waiting.discard(execution.task_id)

    def _claim_one(self, execution, now, plan: Plan):
        task = execution.task
        if execution.trigger == Trigger.RETRY and not task.task_enabled and not policy.asked_by_a_user(execution.requested_by):
            self._skip_queued(execution, "not tried again: the task was disabled after the failed attempt", now, plan)
            return
        action, detail = self._overlap(task, plan)
        if action == "skip":
            self._skip_queued(execution, detail, now, plan)
            return
        if action == "run":
            if bk.claim_queued(execution, now=now, worker=self.worker):
                self._planned_start(execution, plan)
        elif bk.hold_queued(execution, worker=self.worker):
            execution.worker = self.worker
            plan.wait.append(execution)
            self._wait_behind(task, detail, now, plan)

    def _wait_behind(self, task, stop, now, plan: Plan):
        """A new run waits for the current one to end ("queue"), which is stopped first ("replace": two
        runs of such a task never overlap). With "replace" the newest run wins over one already waiting."""
        plan.waiting.add(task.pk)
        plan.stop.extend(stop or ())
        older = self.waiting.get(task.pk)
        reason = "replaced by a newer run before it started (task_overlap: replace)"
        if older is not None and bk.skip_queued(older, now=now, worker=self.worker, reason=reason, held=True):
            log.info("Task %s: waiting execution %s skipped: %s", task.task_id, older.pk, reason)

    def _skip_queued(self, execution, reason, now, plan: Plan):
        if not bk.skip_queued(execution, now=now, worker=self.worker, reason=reason):
            return
        log.info("Task %s: queued execution %s skipped: %s", execution.task.task_id, execution.pk, reason)
        if execution.trigger == Trigger.RETRY:
            # The failure's notice waited for the last attempt; this retry was it.
            failed = facts.previous_attempt(execution)
            if failed is not None:
                plan.notify.append(failed)

    def _planned_start(self, execution, plan: Plan):
        plan.run.append(execution)
        plan.started[execution.task_id] = plan.started.get(execution.task_id, 0) + 1

    def _overlap(self, task, plan: Plan):
        return policy.overlap_action(task.task_overlap, self.by_task.get(task.pk, set()),
                                     planned=plan.started.get(task.pk, 0), waiting=task.pk in self.waiting,
                                     waiting_in_batch=task.pk in plan.waiting, stopping=self.stopping)

    def _carry_out(self, plan: Plan):
        for execution_id in plan.stop:
            self._stop(execution_id, "replaced by a newer run (task_overlap: replace)", who="scheduler")
        for task_pk in plan.unwait:
            self.waiting.pop(task_pk, None)
        for execution in plan.wait:
            self.waiting[execution.task_id] = execution
            log.info("Task %s: execution %s waits for the running one to end (task_overlap: %s)",
                     execution.task.task_id, execution.pk, execution.task.task_overlap)
        for execution in plan.run:
            self._submit(execution)
        for execution in plan.notify:
            notify_execution_later(execution)
        self.chain_from.extend(plan.chain_from)

    def _submit(self, execution):
        self.running[execution.pk] = execution
        self.by_task.setdefault(execution.task_id, set()).add(execution.pk)
        slot = execution.scheduled_time
        if execution.trigger == Trigger.SCHEDULE and slot is not None and slot.timestamp() > time.time():
            heapq.heappush(self.held, (slot.timestamp(), execution.pk, execution))  # claimed a moment early
            return
        self._hand_over(execution)

    def _release_held(self, wait=False):
        """Hand over the runs whose slot has come (claimed just before it, see scheduler.AHEAD); with
        wait, sleep until the slots of all held runs have come."""
        if wait and self.held:
            ahead = max(slot for slot, _, _ in self.held) - time.time()
            if 0 < ahead <= HELD_AT_MOST:
                time.sleep(ahead)
        while self.held and not 0 < self.held[0][0] - time.time() <= HELD_AT_MOST:
            self._hand_over(heapq.heappop(self.held)[2])

    def _hand_over(self, execution):
        slot = f" for slot {execution.scheduled_time.isoformat()}" if execution.scheduled_time else ""
        log.info("Task %s: execution %s starts (%s%s, attempt %s)", execution.task.task_id, execution.pk,
                 execution.trigger, slot, execution.attempt)
        try:
            self.executor.submit(execution, self._on_start, self._on_finish)
        except Exception as exc:  # a broken executor must not lose the run: it is recorded as failed
            log.exception("Executor refused execution %s", execution.pk)
            self._on_finish(execution, not_started(execution, f"could not be handed to the executor: {exc}"))

    def _stop(self, execution_id, reason, who):
        if execution_id in self.stopping:
            return
        self.stopping.add(execution_id)
        if who == "scheduler":
            self.own_stops[execution_id] = who
        for index, (_, pk, execution) in enumerate(self.held):
            if pk == execution_id:  # claimed but not started yet: it never will
                self.held.pop(index)
                heapq.heapify(self.held)
                self._on_finish(execution, not_started(execution, f"stopped: {reason}", ExecutionStatus.STOPPED))
                return
        if not self.executor.stop(execution_id, reason):
            log.info("Execution %s asked to stop (%s) is not in the executor any more", execution_id, reason)

    # Executor callbacks (executor threads: no database here).

    def _on_start(self, execution, pid):
        self.journal.record(execution.pk, pid)

    def _on_finish(self, execution, result):
        self.finished.put((execution, result))
        self.wake.set()

    # Ending.

    def _end_batch(self, batch, now) -> Plan:
        """Inside a transaction: record each result, queue retries, start runs waiting behind them."""
        plan = Plan()
        ended, statuses = set(), []
        bk.end_runs([(e, r, self.own_stops.get(e.pk, "")) for e, r in batch])
        for execution, result in batch:
            task = execution.task
            ended.add(execution.pk)
            retry = None
            again = (result.status in policy.RETRYABLE and execution.pk not in self.stopping
                     and facts.retry_after(execution))
            if again:
                interval, retries = again
                retry = bk.new_retry(execution, end_time=result.end_time, interval=interval)
                self.retry_at = min(self.retry_at, retry.not_before.timestamp())
                log.info("Task %s: execution %s %s; attempt %s of %s queued as execution %s for %s",
                         task.task_id, execution.pk, result.status, retry.attempt, retries + 1,
                         retry.pk, retry.not_before.isoformat())
            others = self.by_task.get(execution.task_id, set()) - ended
            # Shutting down (started is False): a waiting run does not start; shutdown records it stopped.
            waiting = self.waiting.get(execution.task_id) if self.started else None
            if waiting is not None and not others and execution.task_id not in plan.unwait:
                plan.unwait.append(execution.task_id)
                self._start_waiting(waiting, now, plan)
            statuses.append((execution, bool(others) or plan.started.get(execution.task_id, 0) > 0))
            if retry is None:
                plan.notify.append(execution)  # the notifier decides from task_notify whether to tell
            if result.status == ExecutionStatus.SUCCESS:
                plan.chain_from.append(task.task_id)
        bk.statuses_ended(statuses)
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
        if bk.start_waiting(waiting, now=now):
            self._planned_start(waiting, plan)

    def _forget(self, batch):
        for execution, result in batch:
            self.running.pop(execution.pk, None)
            ids = self.by_task.get(execution.task_id)
            if ids is not None:
                ids.discard(execution.pk)
                if not ids:
                    del self.by_task[execution.task_id]
            self.stopping.discard(execution.pk)
            self.own_stops.pop(execution.pk, None)
            self.journal.done(execution.pk)

    def _chain_requests(self) -> list[StartRequest]:
        requests = []
        for dep in self.chain_from:
            for pk in self.dependents.get(dep, ()):
                row = self.rows.get(pk)
                if row is not None:
                    requests.append(StartRequest(row.task_id, Trigger.DEPENDENCY, requested_by=policy.CHAIN + dep))
        return requests

