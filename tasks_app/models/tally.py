"""What /metrics counts, kept as running totals: how many runs of each task ended with each status, with the
buckets of their durations and fire lateness (ExecutionTally), and how many incidents of each kind were opened
(IncidentTally). Runs and incidents are added once each (their `tallied` flag) by tasks_app.metrics.tally, so the
counters only ever grow: the daily housekeeping deletes old runs, and a counter read from the executions table
itself would fall, which Prometheus takes for a restart and turns into a burst of phantom runs."""
from django.db import models
from django.db.models import Q

# Upper bounds (seconds) of the histograms' buckets; the last bucket (+Inf) is implied. Changing a list needs a
# migration that sets every `tallied` flag back to false and empties the tallies, so all runs are counted again.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
                    21600.0)
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def empty_buckets(bounds) -> list[int]:
    """Counts per bucket (not cumulative), one more than the bounds: the last is +Inf."""
    return [0] * (len(bounds) + 1)


class ExecutionTally(models.Model):
    """The runs of one task that ended with one status since the tally began; with no task, those of every task
    together, which deleting a task does not lower (the series without a task_id label, and the lateness)."""

    task = models.ForeignKey("tasks_app.Task", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="tallies")
    status = models.CharField(max_length=10)
    count = models.BigIntegerField(default=0)
    # Runs that ran (not skipped, not stopped before they started): their durations, summed and by bucket.
    duration_sum = models.FloatField(default=0.0)
    duration_buckets = models.JSONField(default=list)
    # Scheduled runs that ran: seconds from their cron slot to their start.
    lateness_sum = models.FloatField(default=0.0)
    lateness_buckets = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "status"], condition=Q(task__isnull=False),
                                    name="one_tally_per_task_status"),
            models.UniqueConstraint(fields=["status"], condition=Q(task__isnull=True), name="one_overall_tally_per_status"),
        ]

    def __str__(self):
        return f"{self.task_id or 'all tasks'} {self.status}: {self.count}"


class IncidentTally(models.Model):
    """How many incidents of one kind (missed, overrun, scheduler_down) were opened since the tally began."""

    kind = models.CharField(max_length=20, primary_key=True)
    count = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.kind}: {self.count}"


class TallyMark(models.Model):
    """One row: when the tallies were last brought up to date. Folding first updates it, which makes concurrent
    folds (two web nodes scraped at once, the housekeeping) wait for each other: no run is added twice."""

    folded_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def hold(cls, now) -> None:
        """Inside a transaction: take the row's lock (PostgreSQL's row lock; SQLite's write lock)."""
        if not cls.objects.filter(pk=1).update(folded_at=now):
            cls.objects.get_or_create(pk=1, defaults={"folded_at": now})
            cls.objects.filter(pk=1).update(folded_at=now)
