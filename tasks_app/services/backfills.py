"""Use cases about backfills ("run for a date range"), for the pages and the API alike: start one (a run per cron
slot of the range, on the days the task's calendar keeps, each with its slot as TASK_SCHEDULED_TIME) and cancel
one as a whole. The runs are written queued and held back; the scheduler lets them go a concurrency at a time
(engine/backfills.py)."""
import copy
import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..audit import events as audit_events
from ..audit import record as audit
from ..definition.loader import TaskValidationError, show
from ..models import Backfill, ExecutionStatus, Task, TaskExecution, Trigger
from ..models.backfill import BACKFILL_HELD
from ..models.wakeup import wake_scheduler

log = logging.getLogger("SchedulerEngine")
MAX_SLOTS = 1000  # runs one backfill may hold: a minutely task over a day is already 1,440
MAX_CONCURRENCY = 20


def backfill_slots(task, start: datetime, end: datetime) -> list:
    """The task's fire times t with start <= t <= end on its calendar's days (at most MAX_SLOTS + 1, so that a
    range too long is seen), aware UTC, oldest first: asked of the model, like every other next fire time."""
    found, after = [], start - timedelta(microseconds=1)
    task = copy.copy(task)
    task.task_enabled = True  # a disabled task's past slots can be run again by hand, as run now can
    while len(found) <= MAX_SLOTS:
        # until=end: a calendar's long freeze inside the range does not end the search early.
        batch = task.next_fire_times(min(200, MAX_SLOTS + 1 - len(found)), after, until=end)
        batch = [t for t in batch if t <= end]
        found += batch
        if len(batch) < 200 or not batch:
            break
        after = batch[-1]
    return found


def _check(task, start, end, concurrency):
    errors = {}
    if not task.task_schedule:
        errors["task_id"] = [_("Task %(id)s has no schedule: it has no slots to run again.") % {"id": task.task_id}]
    if not isinstance(start, datetime) or start.tzinfo is None:
        errors["start"] = [_("start must be a date and time, got %(value)s.") % {"value": show(start)}]
    if not isinstance(end, datetime) or end.tzinfo is None:
        errors["end"] = [_("end must be a date and time, got %(value)s.") % {"value": show(end)}]
    elif not errors.get("start") and end < start:
        errors["end"] = [_("end %(end)s is before start %(start)s.") % {"end": end.isoformat(),
                                                                         "start": start.isoformat()}]
    elif end > timezone.now():
        errors["end"] = [_("end %(end)s is in the future: the schedule runs those slots itself.")
                         % {"end": end.isoformat()}]
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        errors["concurrency"] = [_("concurrency must be a whole number from 1 to %(max)d, got %(value)s.")
                                 % {"max": MAX_CONCURRENCY, "value": show(concurrency)}]
    if errors:
        raise TaskValidationError(errors)


def start_backfill(task, *, start, end, newest_first=False, concurrency=1, rerun_succeeded=False, actor,
                   via) -> Backfill:
    """One queued run (trigger backfill) per slot of [start, end] that has no successful run yet (or every slot,
    with rerun_succeeded) and is not queued or running in another backfill; TaskValidationError names a bad field
    and its value."""
    _check(task, start, end, concurrency)
    slots = backfill_slots(task, start, end)
    if len(slots) > MAX_SLOTS:
        raise TaskValidationError({"end": [_("The range holds more than %(max)d slots of %(schedule)s; choose a "
                                             "shorter one.") % {"max": MAX_SLOTS, "schedule": task.task_schedule}]})
    name = audit.actor_name(actor)
    with transaction.atomic():
        # The task's row locked: a second request for the same range (a double click) sees this one's runs.
        Task.objects.select_for_update().filter(pk=task.pk).first()
        runs = TaskExecution.objects.filter(task=task, scheduled_time__in=slots)
        done = set()
        if not rerun_succeeded and slots:
            done = set(runs.filter(status=ExecutionStatus.SUCCESS).values_list("scheduled_time", flat=True))
        # Slots another backfill has queued or is running are left out too: they would run twice.
        queued = set(runs.filter(backfill__isnull=False, status__in=ExecutionStatus.active())
                     .values_list("scheduled_time", flat=True)) - done
        wanted = [slot for slot in slots if slot not in done and slot not in queued]
        if not wanted:
            raise TaskValidationError({"start": [
                _("No slot of %(schedule)s between %(start)s and %(end)s is left to run: %(count)d already "
                  "succeeded, %(queued)d already queued by another backfill.")
                % {"schedule": task.task_schedule, "start": start.isoformat(), "end": end.isoformat(),
                   "count": len(done), "queued": len(queued)}]})
        if newest_first:
            wanted.reverse()
        backfill = Backfill.objects.create(
            task=task, start=start, end=end, newest_first=newest_first, concurrency=concurrency,
            rerun_succeeded=rerun_succeeded, requested_by=name, slots=len(wanted),
            skipped_slots=len(done) + len(queued))
        # Written in the order chosen: the engine lets them go by execution id.
        TaskExecution.objects.bulk_create([TaskExecution(
            task=task, status=ExecutionStatus.QUEUED, trigger=Trigger.BACKFILL, scheduled_time=slot,
            requested_by=name, worker=BACKFILL_HELD, backfill=backfill) for slot in wanted])
        wake_scheduler("run")
        audit.write(audit_events.BACKFILL_STARTED, model=Backfill, object_pk=backfill.pk, object_id=backfill.pk,
                    object_repr=f"{task.task_id}: {start.isoformat()}..{end.isoformat()}", actor=actor, via=via,
                    details={"task": task.task_id, "backfill": backfill.pk, "runs": len(wanted),
                             "already_succeeded": len(done), "already_queued": len(queued),
                             "concurrency": concurrency,
                             "order": "newest first" if newest_first else "oldest first"})
    log.info("Task %s: backfill %s of %d run(s) from %s to %s requested by %s via %s", task.task_id, backfill.pk,
             len(wanted), start.isoformat(), end.isoformat(), name, via)
    return backfill


class NothingToCancel(Exception):
    pass


def cancel_backfill(backfill: Backfill, *, actor, via) -> dict:
    """Stop every run of the backfill that has not ended: those not started are recorded stopped, those running
    are asked to stop (the scheduler ends them within a tick). Returns {"cancelled": n, "stopping": [ids]}."""
    name = audit.actor_name(actor)
    now = timezone.now()
    with transaction.atomic():
        pending = TaskExecution.objects.filter(backfill=backfill, status=ExecutionStatus.QUEUED)
        cancelled = pending.update(
            status=ExecutionStatus.STOPPED, stop_requested_by=name, start_time=now, end_time=now, duration=0.0,
            error_message=f"backfill {backfill.pk} cancelled by {name} before this run started")
        running = list(TaskExecution.objects.filter(backfill=backfill, status=ExecutionStatus.RUNNING)
                       .values_list("pk", flat=True))
        TaskExecution.objects.filter(pk__in=running, stop_requested_by="").update(stop_requested_by=name)
        if not cancelled and not running:
            raise NothingToCancel(f"backfill {backfill.pk} has no run left to cancel")
        Backfill.objects.filter(pk=backfill.pk).update(cancelled_by=name, cancelled_at=now)
        wake_scheduler("stop")
        audit.write(audit_events.BACKFILL_CANCELLED, model=Backfill, object_pk=backfill.pk, object_id=backfill.pk,
                    object_repr=f"{backfill.task.task_id}: backfill {backfill.pk}", actor=actor, via=via,
                    details={"task": backfill.task.task_id, "backfill": backfill.pk, "cancelled": cancelled,
                             "stopping": running})
    log.info("Task %s: backfill %s cancelled by %s via %s (%d not started, stopping %s)", backfill.task.task_id,
             backfill.pk, name, via, cancelled, running or "none")
    return {"cancelled": cancelled, "stopping": running}
