"""Keeping the APScheduler jobs in step with the tasks: one job per enabled task that has a schedule,
id = task_id, in the Django job store. Only a few columns of each task are held in memory (TaskRow),
so 50,000 tasks stay cheap; a task is read in full only when it runs."""
import json
import logging
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, TextField
from django.db.models.functions import Cast

from tasks_app.models import Task, calendar_named

from . import bookkeeping
from .jobstore import ENGINE_JOB_PREFIX
from .trigger import CronSlotTrigger

log = logging.getLogger("Scheduler")

BATCH = 500  # jobs written per transaction when many change at once (start-up with 10,000 tasks)
TASK_JOB_FUNC = "tasks_app.engine.jobs:fire_task"


def fire_task(task_id):  # pragma: no cover - the engine's executor takes the fire, this is never called
    """The job function stored with each task job. The engine's APScheduler executor intercepts every
    fire (it needs the slot, which APScheduler does not pass to job functions), so this only names it."""
    raise RuntimeError(f"task {task_id} must be run by SchedulerEngine, not by a plain APScheduler")


class TaskRow(NamedTuple):
    pk: int
    task_id: str
    schedule: str
    zone: str
    enabled: bool
    updated_at: datetime
    deps: tuple
    grace: int  # task_misfire_grace, seconds
    calendar: str = ""  # task_calendar: the status's next run skips the days it excludes

    @property
    def wants_job(self) -> bool:
        return self.enabled and bool(self.schedule)


def load_rows() -> dict[int, TaskRow]:
    """Every task's TaskRow; read again at each change. The dependencies come as text and only non-empty lists
    are decoded (most tasks have none): a third of the read with 50,000 tasks."""
    default_zone = settings.TIME_ZONE
    rows = {}
    for pk, task_id, schedule, zone, enabled, updated_at, deps, grace, calendar in (
        Task.objects.order_by().values_list(
            "pk", "task_id", "task_schedule", "task_timezone", "task_enabled", "updated_at",
            Cast("task_dependencies", TextField()), "task_misfire_grace", "task_calendar")):
        deps = tuple(str(d) for d in json.loads(deps) or ()) if deps and deps != "[]" else ()
        rows[pk] = TaskRow(pk, task_id, schedule.strip(), zone or default_zone, enabled, updated_at, deps, grace,
                           calendar)
    return rows


def fingerprint() -> tuple:
    """What the periodic full resync would find changed, in two aggregate queries instead of reading every task
    and job (with 50,000 tasks, 0.3 s of CPU every SCHEDULER_RESYNC_INTERVAL, most of an idle engine's): the
    tasks' count, highest pk and last updated_at (an edit, an insert or a deletion moves one of them, whether or
    not it bumped the configuration marker) and how many task jobs are stored (a job deleted behind the
    engine's back, which the resync writes again)."""
    from django_apscheduler.models import DjangoJob

    tasks = Task.objects.order_by().aggregate(count=Count("pk"), top=Max("pk"), last=Max("updated_at"))
    stored = DjangoJob.objects.exclude(id__startswith=ENGINE_JOB_PREFIX).count()
    return tasks["count"], tasks["top"], tasks["last"], stored


def chain_dependents(rows: dict[int, TaskRow]) -> dict[str, list[int]]:
    """Dependency task_id -> pks of the enabled chain tasks (no schedule) that wait for it."""
    dependents: dict[str, list[int]] = {}
    for row in rows.values():
        if row.enabled and not row.schedule:
            for dep in row.deps:
                dependents.setdefault(dep, []).append(row.pk)
    return dependents


class JobSync:
    """Adds, replaces and removes task jobs; remembers each job's (expression, zone)."""

    def __init__(self, scheduler, store):
        self.scheduler = scheduler
        self.store = store  # jobstore.EngineJobStore, the scheduler's "default"
        self.jobs: dict[str, tuple[str, str]] = {}  # job id -> (expression, zone)
        self.pks: dict[str, int] = {}  # job id -> task pk
        self.verbose = True

    def load_existing(self, store) -> dict[str, object]:
        """Read the jobs a previous scheduler left in the store; returns them by id."""
        found = {}
        for job in store.get_all_jobs():
            if job.id.startswith(ENGINE_JOB_PREFIX):
                continue  # the engine's own jobs are not tasks
            found[job.id] = job
            if isinstance(job.trigger, CronSlotTrigger):
                self.jobs[job.id] = (job.trigger.expression, job.trigger.timezone_name)
            else:  # not ours (written by something else): replaced or removed by apply()
                self.jobs[job.id] = ("", "")
        return found

    def pending_slots(self, existing, rows: dict[int, TaskRow]) -> dict[str, datetime]:
        """task_id -> the slot its stored job waits for, for jobs of the task's current schedule."""
        current = {row.task_id: (row.schedule, row.zone) for row in rows.values()}
        return {job_id: job.next_run_time for job_id, job in existing.items()
                if job.next_run_time is not None and self.jobs.get(job_id) == current.get(job_id)}

    def apply(self, rows: dict[int, TaskRow], changed: set[int] | None, now, existing=None) -> tuple[int, int]:
        """Bring jobs in line with `rows`. changed=None checks every task (start-up, full resync); else only
        those pks (and removes jobs of tasks that are gone). Returns (added or replaced, removed)."""
        wanted = {row.task_id: row for row in rows.values() if row.wants_job}
        work = []
        for job_id in list(self.jobs):
            row = wanted.get(job_id)
            if row is None:
                work.append(("remove", job_id, None))
        for task_id, row in wanted.items():
            if changed is not None and row.pk not in changed and task_id in self.jobs:
                continue
            if self.jobs.get(task_id) != (row.schedule, row.zone):
                work.append(("add", task_id, row))
            elif existing is not None and task_id in existing:
                stale = existing[task_id].next_run_time
                if stale is None or stale <= now:  # missed slots were dealt with by recovery
                    work.append(("reschedule", task_id, row))
        self.verbose = changed is not None or len(work) <= 50  # 10,000 lines at start-up help nobody
        added = removed = 0
        for start in range(0, len(work), BATCH):
            next_runs = {}  # task pk -> the next run its status shows
            with transaction.atomic():
                with self.store.batched():
                    for action, job_id, row in work[start:start + BATCH]:
                        if action == "remove":
                            removed += self._remove(job_id, rows)
                        else:
                            added += self._add(row, now, next_runs)
                bookkeeping.status_next_many(next_runs)
        for row in rows.values():
            self.pks[row.task_id] = row.pk
        return added, removed

    def _add(self, row: TaskRow, now, next_runs: dict) -> int:
        try:
            trigger = CronSlotTrigger(row.schedule, row.zone)
            first = trigger.get_next_fire_time(None, now)
        except Exception as exc:  # a bad expression or zone (ZoneInfoNotFoundError is a KeyError)
            log.error("Task %s not scheduled: schedule %r in %s: %s", row.task_id, row.schedule, row.zone, exc)
            self._remove(row.task_id, {})
            return 0
        self.scheduler.add_job(
            TASK_JOB_FUNC, trigger=trigger, args=[row.task_id], id=row.task_id, name=row.task_id,
            replace_existing=True, next_run_time=first, coalesce=False, misfire_grace_time=None,
            max_instances=1_000_000,
        )
        self.jobs[row.task_id] = (row.schedule, row.zone)
        next_runs[row.pk] = _on_calendar(row, first)
        log.log(logging.INFO if self.verbose else logging.DEBUG,
                "Scheduled task %s: %s (%s), next run %s", row.task_id, row.schedule, row.zone,
                 first.isoformat() if first else "never")
        return 1

    def _remove(self, job_id: str, rows) -> int:
        from apscheduler.jobstores.base import JobLookupError

        try:
            self.scheduler.remove_job(job_id)
        except JobLookupError:
            pass
        known = self.jobs.pop(job_id, None)
        pk = self.pks.get(job_id)
        if pk is not None and pk in rows:
            bookkeeping.status_next_run(pk, None)
        if known is not None and self.verbose:
            log.info("Unscheduled task %s", job_id)
        return 1 if known is not None else 0


def _on_calendar(row: TaskRow, first):
    """The job's first slot, or for a task with a calendar its first slot on a day the calendar runs."""
    if not row.calendar or first is None:
        return first
    rule = calendar_named(row.calendar)
    if rule is None:
        return first
    times = rule.fire_times(row.schedule, row.zone, first - timedelta(microseconds=1), 1)
    return times[0] if times else None
