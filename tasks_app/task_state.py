"""A task's state (running, idle or disabled) and last result, as every door shows and filters them: the pages,
the API and the admin ask these functions, so a word means the same thing everywhere."""
from django.db.models import Q

from .models import ExecutionStatus, TaskStatus

STATES = ("running", "idle", "disabled")
NEVER = "never"  # the last-result filter's value for a task that has not run yet


def status_of(task):
    """The task's TaskStatus row, or None before the scheduler or a service has written one (no query when the
    row came with select_related)."""
    try:
        return task.status
    except TaskStatus.DoesNotExist:
        return None


def state_of(task):
    """running while an execution runs, else idle or disabled."""
    status = status_of(task)
    if status is not None and status.running:
        return "running"
    return "idle" if task.task_enabled else "disabled"


def filter_state(tasks, state):
    """Tasks in `state` (one of STATES; empty: all)."""
    if state == "running":
        return tasks.filter(status__running=True)
    if state in ("idle", "disabled"):
        return tasks.filter(task_enabled=state == "idle").exclude(status__running=True)
    return tasks


def filter_last_status(tasks, last):
    """Tasks whose last run ended with `last` (an ExecutionStatus value), or that never ran (NEVER)."""
    if last == NEVER:
        return tasks.filter(Q(status__isnull=True) | Q(status__last_status=""))
    if last in ExecutionStatus.values:
        return tasks.filter(status__last_status=last)
    return tasks


def search(tasks, text):
    """Tasks with `text` in their id, name or description (case-insensitive)."""
    if not text:
        return tasks
    return tasks.filter(Q(task_id__icontains=text) | Q(task_name__icontains=text) | Q(task_desc__icontains=text))
