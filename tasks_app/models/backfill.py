"""A backfill: one run of a task per cron slot of a date range (respecting its calendar), started by a person,
limited to a concurrency of its own, cancellable as a whole, shown as a group on the history page."""
from functools import cached_property

from django.db import models
from django.db.models import Count, Q

from .execution import ExecutionStatus

# The worker of a backfill's run held back until its backfill has room (engine/backfills.py lets it go).
BACKFILL_HELD = "backfill"


class Backfill(models.Model):
    task = models.ForeignKey("tasks_app.Task", on_delete=models.CASCADE, related_name="backfills")
    start = models.DateTimeField()  # the range's first moment, aware UTC (slots at or after it)
    end = models.DateTimeField()  # the range's last moment (slots at or before it)
    newest_first = models.BooleanField(default=False)
    concurrency = models.PositiveIntegerField(default=1)
    rerun_succeeded = models.BooleanField(default=False)  # also run slots that already have a successful run
    requested_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    slots = models.PositiveIntegerField(default=0)  # runs queued
    skipped_slots = models.PositiveIntegerField(default=0)  # slots left out: they had a successful run
    cancelled_by = models.CharField(max_length=150, blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(concurrency__gte=1), name="backfill_concurrency_positive")]

    def __str__(self):
        return f"backfill {self.pk} of {self.task_id}"

    def counts(self) -> dict:
        """Its runs by status: {"queued": 3, "running": 1, "success": 6, ...}."""
        rows = self.executions.values("status").annotate(n=Count("pk")).order_by()
        return {row["status"]: row["n"] for row in rows}

    @cached_property  # a page asks it several times per row
    def state(self) -> str:
        """running while a run of it is queued or running, cancelled after a cancel, else done."""
        if self.executions.filter(status__in=ExecutionStatus.active()).exists():
            return "running"
        return "cancelled" if self.cancelled_at else "done"
