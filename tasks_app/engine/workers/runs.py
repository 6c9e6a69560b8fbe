"""The database work of a run on a Celery worker: claim it (the conditional UPDATE that makes a run start at most
once, however often its message is delivered), record its end (the result and the task's status, one
transaction, as the local executor's EndRecorder would), and read the stop requests of the worker's runs."""
from django.db import transaction
from django.utils import timezone

from tasks_app.models import ExecutionStatus, TaskExecution

from .. import bookkeeping as bk


def claim(execution_id: int, node: str):
    """The execution (task loaded) if this worker may start it now, else None: only a run that the scheduler
    sent (running, no node yet) and nobody asked to stop. Whoever's UPDATE matches the row first wins."""
    claimed = TaskExecution.objects.filter(
        pk=execution_id, status=ExecutionStatus.RUNNING, node="", stop_requested_by="",
    ).update(node=node, start_time=timezone.now())
    if not claimed:
        return None
    return TaskExecution.objects.select_related("task").get(pk=execution_id)


def why_not_claimed(execution_id: int) -> str:
    """Why claim() refused, in words for the worker's log."""
    row = TaskExecution.objects.filter(pk=execution_id).values_list("status", "node", "stop_requested_by").first()
    if row is None:
        return "it is not in the database (its task was deleted)"
    status, node, stop_by = row
    if status == ExecutionStatus.RUNNING and node:
        return f"it was already started by {node} (a message delivered twice)"
    if status == ExecutionStatus.RUNNING and stop_by:
        return f"{stop_by} asked to stop it before it started; the scheduler records it stopped"
    return f"it is {status} already"


def record_end(execution, result, node: str, stopped_by: str = "") -> bool:
    """Write how the run ended and the task's status in one transaction; False if the row is no longer this
    worker's run (the scheduler recorded it lost meanwhile), which then keeps what it says."""
    fields = bk.result_fields(result)
    with transaction.atomic():
        done = TaskExecution.objects.filter(pk=execution.pk, status=ExecutionStatus.RUNNING, node=node).update(
            **fields)
        if not done:
            return False
        if stopped_by:
            TaskExecution.objects.filter(pk=execution.pk, stop_requested_by="").update(stop_requested_by=stopped_by)
        for name, value in fields.items():
            setattr(execution, name, value)
        others = (TaskExecution.objects.filter(task_id=execution.task_id, status=ExecutionStatus.RUNNING)
                  .exclude(pk=execution.pk).exists())
        bk.statuses_ended([(execution, others)])
    return True


def stops_wanted(execution_ids, node: str) -> dict[int, str]:
    """Of the worker's running executions, those to stop now and why: a stop request, or the row says it is
    not this worker's running run any more (recorded lost while the worker could not reach the database)."""
    wanted = {}
    rows = TaskExecution.objects.filter(pk__in=list(execution_ids)).values_list(
        "pk", "status", "node", "stop_requested_by")
    seen = set()
    for pk, status, owner, stop_by in rows:
        seen.add(pk)
        if status != ExecutionStatus.RUNNING or owner != node:
            wanted[pk] = f"it was recorded {status} meanwhile"
        elif stop_by:
            wanted[pk] = f"requested by {stop_by}"
    for pk in set(execution_ids) - seen:
        wanted[pk] = "its task was deleted"
    return wanted
