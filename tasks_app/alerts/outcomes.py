"""What a run's end means for alerts (called from the sender's pool, never the scheduler's loop): the task's
streak moves on by the rules (rules.decide, under a row lock so two ends of one task are counted in order), the
alert it calls for is queued for the task's channels, the run's overrun incident and the task's missed incident
close, and a scheduled slot that did not run opens a missed incident."""
import logging

from django.db import transaction
from django.utils import timezone

from tasks_app.models import ExecutionStatus, IncidentKind, TaskAlertState, Trigger

from . import incidents, messages, outbox, rules
from .settings_view import rules_for

log = logging.getLogger("Scheduler")


def run_ended(execution) -> None:
    """Alerts for a finished execution (its task loaded)."""
    task = execution.task
    if execution.status in ExecutionStatus.finished():
        incidents.resolve(IncidentKind.OVERRUN, key=execution.pk)
    if execution.status == ExecutionStatus.SKIPPED:
        if execution.trigger == Trigger.SCHEDULE and not _by_overlap(execution):
            incidents.missed(task, execution.scheduled_time or execution.start_time, execution.error_message)
        return
    outcome = rules.outcome_of(execution.status)
    if outcome is None:
        return
    incidents.resolve(IncidentKind.MISSED, task=task)  # it ran
    decision = _advance(task, execution, outcome, execution.end_time or timezone.now())
    if decision is None:
        return
    title, body = messages.run_alert(decision.event, execution, decision)
    outbox.queue(decision.event, title=title, body=body, task=task, execution=execution)


def _by_overlap(execution) -> bool:
    """A slot skipped because the previous run still ran (task_overlap): the task did run, it is no miss."""
    return "task_overlap" in (execution.error_message or "")


def _advance(task, execution, outcome, now):
    with transaction.atomic():
        TaskAlertState.objects.get_or_create(task=task)
        state = TaskAlertState.objects.select_for_update().get(task=task)
        if state.last_execution_id is not None and state.last_execution_id >= execution.pk:
            return None  # counted already (or an older run ending after a newer one: not news)
        before = rules.Streak(state.last_outcome, state.failures_in_row, state.failing_since, state.alerted,
                              state.last_alert_at, state.held)
        after, decision = rules.decide(rules_for(task), before, outcome, now)
        for name in ("last_outcome", "failures_in_row", "failing_since", "alerted", "last_alert_at", "held"):
            setattr(state, name, getattr(after, name))
        state.last_execution_id = execution.pk
        state.save()
    if decision is None and after.held > before.held:
        log.info("Task %s: failure alert held back by the quiet period (%d so far)", task.task_id, after.held)
    return decision
