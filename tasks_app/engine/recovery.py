"""What a scheduler does when it starts after another one stopped or died: executions left behind made `lost`
(their process groups and cgroups killed: the backstop for a run whose shepherd could not do it), and the slots
missed meanwhile (since the previous leader's last heartbeat, read from its lease, or what its job store waits for)."""
import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from tasks_app.models import ExecutionStatus, TaskExecution, Trigger
from tasks_app.models.backfill import BACKFILL_HELD

from . import bookkeeping, cgroups, journal, policy
from .procgroup import kill_process_group, kill_stray_shepherds

log = logging.getLogger("SchedulerEngine")


def left_behind(runs_elsewhere=False):
    """Executions a previous scheduler was responsible for: running, or queued and already claimed. With
    runs_elsewhere (Celery workers), only the queued ones: the running ones go on without a scheduler."""
    running = Q(pk__in=[]) if runs_elsewhere else Q(status=ExecutionStatus.RUNNING)
    # A backfill's run held back (worker BACKFILL_HELD) belongs to no scheduler: it waits for its turn.
    return TaskExecution.objects.filter(
        running | (Q(status=ExecutionStatus.QUEUED) & ~Q(worker="") & ~Q(worker=BACKFILL_HELD))
    ).select_related("task")


def adopt_running(worker: str) -> list[TaskExecution]:
    """The runs a previous scheduler sent to Celery workers, taken over by this one (`worker` becomes theirs,
    so that stop requests reach them and their ends are followed here). Called while holding the scheduler
    lock: no other scheduler follows them."""
    with transaction.atomic():
        runs = list(TaskExecution.objects.select_for_update(of=("self",)).filter(status=ExecutionStatus.RUNNING)
                    .select_related("task").order_by("execution_id"))
        TaskExecution.objects.filter(pk__in=[e.pk for e in runs]).update(worker=worker)
    for execution in runs:
        execution.worker = worker
    if runs:
        log.info("Following %d run(s) left on the workers by the previous scheduler: %s", len(runs),
                 ", ".join(f"{e.pk} ({e.node or 'not started yet'})" for e in runs[:20])
                 + (" ..." if len(runs) > 20 else ""))
    return runs


def recover_lost(now, runs_elsewhere=False) -> list[TaskExecution]:
    """Kill the process groups of runs a dead scheduler left, and record those runs as lost.
    Called while holding the scheduler lock, so every such execution belongs to a dead scheduler."""
    leftovers = list(left_behind(runs_elsewhere))
    pids = journal.read_pids()
    for execution in leftovers:
        pid = pids.get(execution.pk) or execution.pid
        # The group is killed only if a member still carries this run's TASK_EXECUTION_ID: a pid reused
        # by an unrelated process is left alone.
        if pid and kill_process_group(pid, execution_id=execution.pk):
            log.warning("Killed process group %s left by execution %s of task %s", pid, execution.pk,
                        execution.task.task_id)
        # Normally the run's shepherd did all this when the scheduler died: unless it was stopped or stuck.
        if kill_stray_shepherds(execution.pk):
            log.warning("Killed the shepherd of execution %s of task %s and what it still held", execution.pk,
                        execution.task.task_id)
        if cgroups.clean_up_run(execution.pk):
            log.warning("Killed what was left in the cgroup of execution %s of task %s", execution.pk,
                        execution.task.task_id)
    with transaction.atomic():
        for execution in leftovers:
            worker = execution.worker or "unknown"
            started = execution.status == ExecutionStatus.RUNNING
            reason = (f"scheduler process {worker} died while this run was in progress" if started
                      else f"scheduler process {worker} died before this run started")
            duration = (now - execution.start_time).total_seconds() if execution.start_time else 0.0
            TaskExecution.objects.filter(pk=execution.pk).update(
                status=ExecutionStatus.LOST, error_message=reason, end_time=now,
                start_time=execution.start_time or now, duration=round(max(0.0, duration), 3),
                pid=pids.get(execution.pk) or execution.pid)
            execution.status, execution.error_message, execution.end_time = ExecutionStatus.LOST, reason, now
            execution.start_time = execution.start_time or now
            execution.duration = round(max(0.0, duration), 3)
            bookkeeping.statuses_ended([(execution, False)])
    journal.remove_journals()
    for execution in leftovers:
        log.warning("Execution %s of task %s is lost: %s", execution.pk, execution.task.task_id,
                    execution.error_message)
    return leftovers


def last_slots() -> dict[int, datetime]:
    """Task pk -> the latest cron slot recorded for it (ran, skipped or lost alike)."""
    rows = (TaskExecution.objects.filter(trigger=Trigger.SCHEDULE, scheduled_time__isnull=False)
            .values("task_id").annotate(last=Max("scheduled_time")).values_list("task_id", "last"))
    return dict(rows)


def missed_since(row, heartbeat_seen, slots_by_task, waiting_for=None) -> datetime:
    """Slots after this instant were missed: the latest of the task's last recorded slot, its last change
    (a slot before a task was created or enabled was not missed), and the slot its stored job waits for
    (every earlier one was dealt with) - or, without such a job, when a scheduler was last seen. The job
    store is the better witness: a scheduler that could read but not write (a locked database) still
    wrote its heartbeat while its slots went unclaimed."""
    pending = waiting_for - timedelta(microseconds=1) if waiting_for is not None else heartbeat_seen
    candidates = [row.updated_at, slots_by_task.get(row.pk), pending]
    return max(moment for moment in candidates if moment is not None)


def find_missed(rows, now, heartbeat_seen, waiting_for=None) -> list[tuple]:
    """[(row, policy.Missed)] for enabled scheduled tasks that have slots in (since, now].
    waiting_for: task_id -> the next run time its stored job holds (jobs of the task's current schedule)."""
    slots_by_task = last_slots()
    waiting_for = waiting_for or {}
    found = []
    for row in rows:
        if not (row.enabled and row.schedule):
            continue
        try:
            since = missed_since(row, heartbeat_seen, slots_by_task, waiting_for.get(row.task_id))
            missed = policy.missed_slots(row.schedule, row.zone, since, now)
        except Exception as exc:  # a bad expression or zone: _add says so when it does not schedule it
            log.error("Task %s: schedule %r in %s cannot be read: %s", row.task_id, row.schedule, row.zone, exc)
            continue
        if missed:
            found.append((row, missed))
    return found
