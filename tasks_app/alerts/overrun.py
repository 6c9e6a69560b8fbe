"""Overruns seen from the scheduler: on each tick the engine hands its running executions to OverrunWatch, which
only compares clocks (no query on the loop's thread); each run's threshold (task_expected_duration, or three
times the median of the task's last 20 successful runs once it has 5: rules.overrun_threshold) is read once, in
the notices' pool, and an overrun is alerted once, while the run still runs."""
import logging

from django.db import close_old_connections

from tasks_app.models import ExecutionStatus, TaskExecution

from . import incidents, rules, sender

log = logging.getLogger("Scheduler")
HISTORY = 20


def threshold_for(task_pk, expected) -> float | None:
    """Seconds after which a run of the task is an overrun (None: not known yet)."""
    if expected:
        return float(expected)
    close_old_connections()
    try:
        durations = list(TaskExecution.objects.filter(task_id=task_pk, status=ExecutionStatus.SUCCESS)
                         .order_by("-execution_id").values_list("duration", flat=True)[:HISTORY])
    finally:
        close_old_connections()
    return rules.overrun_threshold(None, durations)


class OverrunWatch:
    """Owned by the engine thread (no lock needed): the threshold of each run in hand, and which were alerted."""

    def __init__(self):
        self._thresholds = {}  # execution id -> Future of its threshold
        self._alerted = set()

    def check(self, running: dict, now) -> None:
        """`running`: execution id -> TaskExecution (task loaded) of the runs in hand."""
        for pk in [pk for pk in self._thresholds if pk not in running]:
            del self._thresholds[pk]
            self._alerted.discard(pk)
        for pk, execution in running.items():
            future = self._thresholds.get(pk)
            if future is None:
                self._thresholds[pk] = sender.pool().submit(threshold_for, execution.task_id,
                                                            execution.task.task_expected_duration)
                continue
            if pk in self._alerted or not future.done() or execution.start_time is None:
                continue
            try:
                threshold = future.result()
            except Exception as exc:  # the database was unreachable: try again on a later tick
                log.warning("Overrun threshold of execution %s unknown: %s", pk, exc)
                del self._thresholds[pk]
                continue
            elapsed = (now - execution.start_time).total_seconds()
            if threshold is not None and elapsed >= threshold:
                self._alerted.add(pk)
                sender.submit(incidents.overrun, execution, elapsed, threshold)
