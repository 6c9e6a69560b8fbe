"""Incidents of what did not happen, opened by a conditional insert: the table allows one open incident per kind
and subject (models.Incident's constraint), so when two processes notice the same missed slot or the same dead
scheduler at once, one insert wins and only the winner alerts. An incident is resolved when the thing happens
again (a run of the task, the run's end, a fresh heartbeat)."""
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from tasks_app.models import AlertEvent, Incident, IncidentKind

from . import messages, outbox, sender
from .settings_view import rules_for

log = logging.getLogger("Scheduler")
SCHEDULER_KEY = "scheduler"


def open_incident(kind, key, **fields) -> Incident | None:
    """Insert an open incident; None if one with this kind and key is open already (another process's)."""
    try:
        with transaction.atomic():
            return Incident.objects.create(kind=kind, key=str(key)[:100], opened_at=timezone.now(), **fields)
    except IntegrityError:
        return None


def resolve(kind, *, key=None, task=None) -> int:
    rows = Incident.objects.filter(kind=kind, resolved_at__isnull=True)
    if key is not None:
        rows = rows.filter(key=str(key))
    if task is not None:
        rows = rows.filter(task=task)
    # Looked for first: called at the end of every run, and almost always with nothing open, where an UPDATE
    # would still take SQLite's write lock and commit (two of each per run, beside the engine's own writes).
    if not rows.exists():
        return 0
    return rows.update(resolved_at=timezone.now())


def missed(task, slot, reason: str) -> Incident | None:
    """A slot of `task` passed without a run starting: open the task's missed incident (once until a run of it
    ends) and alert, if its rules want that. Returns the incident when this call opened it."""
    incident = open_incident(IncidentKind.MISSED, task.task_id, task=task, slot=slot, detail=reason[:2000])
    if incident is None:
        return None
    log.warning("Task %s missed its run due at %s: %s", task.task_id, slot.isoformat() if slot else "?", reason)
    if rules_for(task)["on_missed"]:
        title, body = messages.missed_alert(task, slot, reason)
        outbox.queue(AlertEvent.MISSED, title=title, body=body, task=task, incident=incident)
    return incident


def overrun(execution, elapsed: float, threshold: float) -> Incident | None:
    """A run has gone on past its threshold: open its overrun incident (once per run) and alert."""
    task = execution.task
    incident = open_incident(IncidentKind.OVERRUN, execution.pk, task=task, execution=execution,
                             detail=f"running for {elapsed:.0f} s, past {threshold:.0f} s")
    if incident is None:
        return None
    log.warning("Task %s: execution %s is still running after %.0f s (threshold %.0f s)", task.task_id,
                execution.pk, elapsed, threshold)
    if rules_for(task)["on_overrun"]:
        title, body = messages.overrun_alert(execution, elapsed, threshold, expected=bool(task.task_expected_duration))
        outbox.queue(AlertEvent.OVERRUN, title=title, body=body, task=task, execution=execution, incident=incident)
    return incident


def scheduler_down(last_seen, stopped: bool, after: int) -> Incident | None:
    """The scheduler has not been seen for `after` seconds: one incident (and one alert to the default channels)
    until it is seen again."""
    incident = open_incident(IncidentKind.SCHEDULER_DOWN, SCHEDULER_KEY, slot=last_seen,
                             detail="stopped" if stopped else "not seen")
    if incident is None:
        return None
    log.error("The scheduler is not running: last seen %s", last_seen.isoformat() if last_seen else "never")
    title, body = messages.scheduler_down_alert(last_seen, stopped, after)
    outbox.queue(AlertEvent.SCHEDULER_DOWN, title=title, body=body, incident=incident, channels=outbox.channels_for(None))
    return incident



def calendar_without_data(task, slot, calendar: str, note: str) -> Incident | None:
    """A run fell back to Monday to Friday because its calendar has no data for the slot's year: one incident
    (and alert to the task's channels) per calendar and year, left open until the data comes."""
    incident = open_incident(IncidentKind.CALENDAR_DATA, f"{calendar}:{slot.year}", task=task, slot=slot,
                             detail=note[:2000])
    if incident is None:
        return None
    title, body = messages.calendar_fallback_alert(task, slot, note)
    if outbox.queue(AlertEvent.CALENDAR_DATA, title=title, body=body, task=task, incident=incident):
        transaction.on_commit(sender.kick)  # called inside the scheduler's batch: sent once it is written
    return incident
