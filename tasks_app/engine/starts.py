"""Starter: turns start requests (cron fires, chains, missed slots) and queued runs to claim (run now,
retries) into executions, inside the caller's transaction, by the overlap, dependency and missed-slot rules
of policy.py. It writes the rows and returns a Plan; nothing is handed to the executor before the commit."""
import logging

from django.db import IntegrityError, transaction

from tasks_app.alerts import incidents
from tasks_app.models import ExecutionStatus, Pause, Task, TaskExecution, Trigger

from . import bookkeeping as bk
from . import facts, forkserver, policy
from .plan import Plan, StartRequest

log = logging.getLogger("Scheduler")
MISSED_LINES = 20  # a batch with more tasks that missed slots logs one line for them all


class Starter:
    def __init__(self, registry, worker: str, node: str | None = None):
        self.registry = registry  # read only: what runs and waits decides the overlap rule
        self.worker = worker
        # Where the runs it starts run: this scheduler (local executor), or "" until a Celery worker claims them.
        self.node = worker if node is None else node
        self._calendars = {}
        self._pauses = None  # the pauses on for the batch being decided (models.Pause), read when first needed

    def plan(self, requests: list[StartRequest], claims, now) -> Plan:
        """Decide every start and write them all (a few statements for the whole batch, so a midnight burst
        of 1,000 fires is one short transaction); returns the plan to carry out after commit."""
        plan = Plan()
        self._calendars = {}  # calendar name -> its rule, read once for this batch
        wanted = {r.task_id for r in requests}
        tasks = {t.task_id: t for t in Task.objects.filter(task_id__in=wanted)} if wanted else {}
        self._pauses = None
        for request in requests:
            task = tasks.get(request.task_id)
            if task is None:
                log.info("Task %s is gone; nothing started for it", request.task_id)
                continue
            self._decide(request, task, now, plan)
        self._insert(plan)
        if claims:
            for execution in TaskExecution.objects.filter(
                pk__in=claims, status=ExecutionStatus.QUEUED, worker=""
            ).select_related("task").order_by("execution_id"):
                self._claim_one(execution, now, plan)
        bk.status_started_many(plan.started, now=now)
        bk.status_next_many(plan.next_runs)
        if any(forkserver.serves(e.task) for e in plan.run):
            # Runs are claimed ahead of their slot: a fork server started now (the first run it serves, or
            # after one ended) has imported what it needs by then, instead of the run waiting for it.
            forkserver.warm_up()
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
            following = request.next_run_time
            if task.task_calendar and following is not None:
                following = facts.next_on_calendar(task, following, self._calendars)
            plan.next_runs[task.pk] = following
        if request.trigger == Trigger.SCHEDULE and request.slot is None:
            return  # every due slot was missed: recorded above
        note = ""
        if request.trigger == Trigger.SCHEDULE and task.task_calendar:
            verdict = facts.calendar_verdict(task, request.slot, self._calendars)
            excluded, note = policy.on_calendar(task.task_calendar, verdict)
            if excluded:
                skip(request.slot, excluded)
                return
            if note:
                log.warning("Task %s, slot %s: %s", task.task_id, request.slot.isoformat(), note)
                incidents.calendar_without_data(task, request.slot, task.task_calendar, note)
        if request.trigger == Trigger.DEPENDENCY and not facts.chain_ready(task):
            return
        pause = self._pause_holding(request.trigger, task, now)
        if pause is not None:
            skip(request.slot, pause.reason_text(), kind="paused")
            return
        if request.trigger == Trigger.SCHEDULE and task.task_dependencies:
            problem = facts.dependency_problem(task)
            if problem:
                skip(request.slot, problem, kind="dependency")
                return
        action, detail = self._overlap(task, plan)
        if action == policy.SKIP:
            skip(request.slot, detail)
        elif action == policy.RUN:
            row("run", request.slot, status=ExecutionStatus.RUNNING, start_time=max(now, request.slot or now),
                node=self.node, note=note)
            plan.count_start(task.pk)
        else:  # WAIT, or REPLACE: wait for the runs it stops to end
            row("wait", request.slot, status=ExecutionStatus.QUEUED, note=note)
            self._wait_behind(task, detail, now, plan)

    def _insert(self, plan: Plan):
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
                    plan.undo_start(kind, execution)
                    continue
                seen.add(key)
            rows.append((kind, execution))
        try:
            with transaction.atomic():  # a savepoint: should a slot be taken after all, fall back row by row
                bk.insert_rows(TaskExecution, [e for _, e in rows])
        except IntegrityError:
            kept = []
            for kind, execution in rows:
                try:
                    with transaction.atomic():
                        execution.save(force_insert=True)
                    kept.append((kind, execution))
                except IntegrityError:
                    execution.pk = None
                    plan.undo_start(kind, execution)
            rows = kept
        # After downtime thousands of tasks missed slots at once: one line per task would cost the scheduler
        # more than recording them (each record says how many, in the history; each incident logs its task).
        missed = [e for kind, e in rows if kind == "missed"]
        each_missed = len(missed) <= MISSED_LINES
        if not each_missed:
            log.warning("%d tasks missed slots while the scheduler was not running (%s ...); each has a skipped "
                        "execution saying how many", len(missed), ", ".join(e.task.task_id for e in missed[:5]))
        for kind, execution in rows:
            if kind == "run":
                plan.run.append(execution)
            elif kind == "wait":
                plan.wait.append(execution)
            elif kind == "missed":
                if each_missed:
                    log.warning("Task %s: %s", execution.task.task_id, execution.error_message)
                plan.notify.append(execution)  # its task's alerts: a missed incident (task_notify is not told)
            else:
                log.info("Task %s skipped: %s", execution.task.task_id, execution.error_message)
                if kind == "dependency":
                    plan.notify.append(execution)  # a dependency that did not succeed: on_failure is told

    def _claim_one(self, execution, now, plan: Plan):
        task = execution.task
        if (execution.trigger == Trigger.RETRY and not task.task_enabled
                and not policy.asked_by_a_user(execution.requested_by)):
            self._skip_queued(execution, "not tried again: the task was disabled after the failed attempt", now, plan)
            return
        pause = self._pause_holding(execution.trigger, task, now)
        if pause is not None:  # queued before the pause began (a trigger URL's run): recorded as a paused slot is
            self._skip_queued(execution, pause.reason_text(), now, plan)
            return
        # A backfill's runs are bounded by the backfill's concurrency (engine/backfills.py), not by task_overlap:
        # running several past slots at once is what the person asked for.
        action, detail = ((policy.RUN, None) if execution.backfill_id is not None  # its runs and their retries
                          else self._overlap(task, plan))
        if action == policy.SKIP:
            self._skip_queued(execution, detail, now, plan)
            return
        if action == policy.RUN:
            if bk.claim_queued(execution, now=now, worker=self.worker, node=self.node):
                plan.add_run(execution)
        elif bk.hold_queued(execution, worker=self.worker):
            execution.worker = self.worker
            plan.wait.append(execution)
            self._wait_behind(task, detail, now, plan)

    def _pause_holding(self, trigger, task, now):
        if trigger not in policy.PAUSED_TRIGGERS:
            return None  # a batch of runs asked for by hand reads no pause
        if self._pauses is None:
            # Read once per batch: a pause started or resumed a moment ago applies from the next batch on.
            self._pauses = list(Pause.objects.active(now))
        return policy.pause_holding(trigger, task.task_tags, self._pauses)

    def _overlap(self, task, plan: Plan) -> policy.Overlap:
        registry = self.registry
        return policy.overlap_action(task.task_overlap, registry.busy(task.pk), planned=plan.started.get(task.pk, 0),
                                     waiting=registry.waiting_for(task.pk) is not None,
                                     waiting_in_batch=task.pk in plan.waiting, stopping=registry.stopping)

    def _wait_behind(self, task, stop, now, plan: Plan):
        """A new run waits for the current one to end ("queue"), which is stopped first ("replace": two
        runs of such a task never overlap). With "replace" the newest run wins over one already waiting."""
        plan.waiting.add(task.pk)
        plan.stop.extend(stop or ())
        older = self.registry.waiting_for(task.pk)
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

