"""Use cases about runs: run now and stop. Web processes never run scripts: they queue an execution
(or flag one to stop) in the database and the scheduler process (`runscheduler`) acts on it at once on
PostgreSQL (NOTIFY, models/wakeup.py), within a tick on SQLite (settings.SCHEDULER_TICK, 0.5 s): a queued run
starts within 1 s, a stop ends the run within 2 s.
Both are audit entries about the task.
"""
import logging

from django.db import transaction
from django.utils import timezone

from ..audit import events as audit_events
from ..audit import record as audit
from ..definition.overrides import clean_overrides
from ..models import ExecutionStatus, TaskExecution, Trigger
from ..models.wakeup import wake_scheduler

log = logging.getLogger("SchedulerEngine")


class NothingRunning(Exception):
    pass


def run_now(task, *, actor: str, via: str, trigger=Trigger.MANUAL, env=None, details=None):
    """Queue a manual execution of `task`; returns the TaskExecution (status queued). `trigger` is manual, or
    hook for a trigger URL; `details` go into the audit entry.

    `env`: one-off task_env values for this run (definition/overrides.py), refused with a TaskValidationError
    under "env" unless the task allows them. The audit entry names them, never their values.

    A disabled task can be run this way too: disabling stops the schedule, not the operator."""
    overrides = clean_overrides(task, env)
    if overrides:
        details = {**(details or {}), "env": sorted(overrides)}
    with transaction.atomic():
        execution = TaskExecution.objects.create(
            task=task, status=ExecutionStatus.QUEUED, trigger=trigger, requested_by=actor, worker="",
            env_overrides=overrides,
        )
        audit.run_event(audit_events.RUN_REQUESTED, task, actor=actor, via=via,
                        details={"execution": execution.pk, **(details or {})})
        wake_scheduler("run")
    log.info("Task %s: run requested by %s via %s (execution %s)%s", task.task_id, actor, via, execution.pk,
             f" with env {', '.join(sorted(overrides))}" if overrides else "")
    return execution


def stop_task(task, *, actor: str, via: str):
    """Ask the scheduler to stop the task's running execution(s) and cancel pending retries and queued
    runs. Returns the executions concerned; raises NothingRunning if there is none."""
    now = timezone.now()
    with transaction.atomic():
        # Queued ones first: a claim racing with us either happened before (the run is running and is
        # flagged below) or finds the row no longer queued (the claim is a conditional UPDATE).
        queued, cancelled = _cancel_queued(task, actor, now)
        running = list(TaskExecution.objects.filter(task=task, status=ExecutionStatus.RUNNING)
                       .values_list("pk", flat=True))
        TaskExecution.objects.filter(pk__in=running, stop_requested_by="").update(stop_requested_by=actor)
        # A run that failed meanwhile may have queued its retry: on PostgreSQL the UPDATE above waits for
        # the scheduler's commit and goes on, and only a new statement sees that retry. Cancel it too.
        later, more = _cancel_queued(task, actor, now)
        queued, cancelled = queued + later, cancelled + more
        if running or cancelled:
            wake_scheduler("stop")
            audit.run_event(audit_events.RUN_STOPPED, task, actor=actor, via=via,
                            details={"running": running, "cancelled": queued if cancelled else []})
    if not running and not cancelled:
        raise NothingRunning(f"task {task.task_id} has no running or queued execution")
    log.info("Task %s: stop requested by %s via %s (running %s, cancelled queued %s)", task.task_id, actor,
             via, running or "none", queued if cancelled else "none")
    return list(TaskExecution.objects.filter(pk__in=running + queued).order_by("-execution_id"))


def _cancel_queued(task, actor, now):
    """Stop the task's queued runs (run now, pending retries); returns (their ids, how many were stopped)."""
    queued = list(TaskExecution.objects.filter(task=task, status=ExecutionStatus.QUEUED).values_list("pk", flat=True))
    cancelled = TaskExecution.objects.filter(pk__in=queued, status=ExecutionStatus.QUEUED).update(
        status=ExecutionStatus.STOPPED, stop_requested_by=actor, start_time=now, end_time=now, duration=0.0,
        error_message=f"stopped by {actor} before it started",
    ) if queued else 0
    return queued, cancelled
