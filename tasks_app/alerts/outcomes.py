"""What a run's end means for alerts (called from the sender's pool, never the scheduler's loop): the task's
streak moves on by the rules (rules.decide, under a row lock so two ends of one task are counted in order), the
alert it calls for is queued for the task's channels, the run's overrun incident and the task's missed incident
close, and a scheduled slot that did not run opens a missed incident.

The engine hands over the ends of one round together (runs_ended): their open incidents, their tasks' streaks and
the channels are read in one query for the batch, and an end nothing can come of writes nothing (see _change)."""
import logging
import threading

from django.db import connection, transaction
from django.utils import timezone

from tasks_app.models import ExecutionStatus, Incident, IncidentKind, TaskAlertState, Trigger

from . import end_reads, incidents, messages, outbox, rules
from .settings_view import rules_for

log = logging.getLogger("Scheduler")
# Ends are counted one batch at a time (the notices' pool has two threads): a batch decides from streaks it read
# without a lock, which a concurrent batch must not change meanwhile.
_counting = threading.RLock()
STREAK_FIELDS = ("last_outcome", "failures_in_row", "failing_since", "alerted", "last_alert_at", "held")


def run_ended(execution) -> bool:
    """Alerts for a finished execution (its task loaded). Returns whether it may have queued a notice."""
    with _counting:
        return _run_ended(execution)


def _run_ended(execution) -> bool:
    task = execution.task
    if execution.status in ExecutionStatus.finished():
        incidents.resolve(IncidentKind.OVERRUN, key=execution.pk)
    if execution.status == ExecutionStatus.SKIPPED:
        if execution.trigger == Trigger.SCHEDULE and not _by_overlap(execution):
            return incidents.missed(task, execution.scheduled_time or execution.start_time,
                                    execution.error_message) is not None
        return False
    outcome = rules.outcome_of(execution.status)
    if outcome is None:
        return False
    incidents.resolve(IncidentKind.MISSED, task=task)  # it ran
    return _alert(execution, _advance(task, execution, outcome, execution.end_time or timezone.now()))


def runs_ended(executions) -> bool:
    """run_ended for the ends of one round (tasks loaded): their open incidents, the channels and their tasks'
    streaks read in one query (end_reads), and a transaction only for an end that moves a streak or alerts.
    Returns whether it may have queued a notice."""
    with _counting:
        if any(e.status == ExecutionStatus.SKIPPED for e in executions):
            # A skipped slot opens a missed incident that a later end of the batch closes: in order, one by one.
            return any([_run_ended(e) for e in executions])
        return _runs_ended(executions)


def _runs_ended(executions) -> bool:
    now = timezone.now()
    ended = [e for e in executions if e.status in ExecutionStatus.finished()]
    counted = [(e, outcome) for e in ended if (outcome := rules.outcome_of(e.status)) is not None]
    if not ended:
        return False
    facts = end_reads.read([e.pk for e in ended], sorted({e.task_id for e, _ in counted}),
                           sorted({e.task_id for e, outcome in counted if outcome == rules.SUCCESS}))
    if facts.open_incidents:
        Incident.objects.filter(pk__in=facts.open_incidents, resolved_at__isnull=True).update(resolved_at=now)
    queued, steady, moved = False, [], set()
    for execution, outcome in counted:
        # An end after one of the same task that moved its streak in this batch: the streak read is stale.
        change = "full" if execution.task_id in moved else _change(execution, outcome, facts, now)
        if change == "none":
            continue
        if change == "steady":
            steady.append(execution)
            continue
        moved.add(execution.task_id)
        queued |= _alert(execution, _advance(execution.task, execution, outcome, execution.end_time or now))
    for execution in _count_steady(steady):  # a streak that changed meanwhile: counted the full way
        queued |= _alert(execution, _advance(execution.task, execution, rules.SUCCESS, execution.end_time or now))
    return queued


def _change(execution, outcome, facts, now) -> str:
    """What counting the end takes: "none" (nothing can come of it: a success of a task whose alerts reach no
    channel, that calls for no alert and leaves its clean streak as it was; a later end decides exactly as if it
    had been counted, unless on_success with state_change_only is switched on later, when that task's first
    success is told once), "steady" (the same, for a task with a channel: only its last run counted is written)
    or "full" (rules.decide under the row lock: a failure, a recovery, an alert). Failures are always counted in
    full, so a channel added later sees the task's real streak."""
    streak = facts.streaks.get(execution.task_id)
    if outcome != rules.SUCCESS or (streak is not None and not streak.clean):
        return "full"
    before = rules.Streak(streak.last_outcome if streak is not None else "")
    if before.last_outcome == rules.FAILURE:
        return "full"
    _after, decision = rules.decide(rules_for(execution.task), before, outcome, execution.end_time or now)
    if decision is not None:
        return "full"
    if not facts.reaches_a_channel(execution.task):
        return "none"
    return "steady"


def _count_steady(executions) -> list:
    """Count clean successes that alert nobody with one conditional UPDATE each (one executemany): only the
    last run counted moves, and only while the streak is still clean and this run newer. Returns those it did
    not count (a streak changed since it was read, or none yet): they take the full way."""
    if not executions:
        return []
    qn = connection.ops.quote_name
    sql = (f"UPDATE {qn(TaskAlertState._meta.db_table)} SET last_outcome = %s, last_execution_id = %s "
           f"WHERE task_id = %s AND (last_execution_id IS NULL OR last_execution_id < %s) "
           f"AND last_outcome IN ('', %s) AND failures_in_row = 0 AND NOT alerted AND failing_since IS NULL")
    params = [[rules.SUCCESS, e.pk, e.task_id, e.pk, rules.SUCCESS] for e in executions]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        if cursor.rowcount == len(executions):
            return []
    # Some were not written: the full way for all of them (an end already counted is recognised there).
    return executions


def _alert(execution, decision) -> bool:
    if decision is None:
        return False
    title, body = messages.run_alert(decision.event, execution, decision)
    return bool(outbox.queue(decision.event, title=title, body=body, task=execution.task, execution=execution))


def _by_overlap(execution) -> bool:
    """A slot skipped because the previous run still ran (task_overlap): the task did run, it is no miss."""
    return "task_overlap" in (execution.error_message or "")


def _advance(task, execution, outcome, now):
    with transaction.atomic():
        TaskAlertState.objects.get_or_create(task=task)
        state = TaskAlertState.objects.select_for_update().get(task=task)
        if state.last_execution_id is not None and state.last_execution_id >= execution.pk:
            return None  # counted already (or an older run ending after a newer one: not news)
        before = rules.Streak(*(getattr(state, name) for name in STREAK_FIELDS))
        after, decision = rules.decide(rules_for(task), before, outcome, now)
        for name in STREAK_FIELDS:
            setattr(state, name, getattr(after, name))
        state.last_execution_id = execution.pk
        state.save()
    if decision is None and after.held > before.held:
        log.info("Task %s: failure alert held back by the quiet period (%d so far)", task.task_id, after.held)
    return decision
