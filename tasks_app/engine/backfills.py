"""Backfills on the engine's side: a backfill's runs wait in the database held back (worker BACKFILL_HELD, which
the tick's claim ignores) and are let go a few at a time, so that no more than the backfill's concurrency are
queued or running at once, in the order they were written (the order the person chose)."""
import logging

from django.db.models import Count, Q

from tasks_app.models import Backfill, ExecutionStatus, TaskExecution
from tasks_app.models.backfill import BACKFILL_HELD

log = logging.getLogger("Scheduler")


def release_held_runs() -> int:
    """Let go as many held runs of each backfill as its concurrency has room for; returns how many. Called by
    the tick when the poll saw held runs (one indexed count when there are none)."""
    held = TaskExecution.objects.filter(status=ExecutionStatus.QUEUED, worker=BACKFILL_HELD)
    waiting = dict(held.order_by().values("backfill_id").annotate(n=Count("pk")).values_list("backfill_id", "n"))
    if not waiting:
        return 0
    going = dict(TaskExecution.objects.filter(backfill_id__in=waiting).filter(
        Q(status=ExecutionStatus.RUNNING) | Q(status=ExecutionStatus.QUEUED, worker="")
    ).order_by().values("backfill_id").annotate(n=Count("pk")).values_list("backfill_id", "n"))
    released = 0
    for backfill_id, concurrency in Backfill.objects.filter(pk__in=waiting).values_list("pk", "concurrency"):
        room = concurrency - going.get(backfill_id, 0)
        if room <= 0:
            continue
        ids = list(held.filter(backfill_id=backfill_id).order_by("execution_id").values_list("pk", flat=True)[:room])
        # Conditional: a cancel that stopped one of them meanwhile wins.
        released += TaskExecution.objects.filter(pk__in=ids, status=ExecutionStatus.QUEUED,
                                                 worker=BACKFILL_HELD).update(worker="")
    if released:
        log.info("Backfills: %d run(s) let go to start", released)
    return released
