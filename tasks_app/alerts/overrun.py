"""Overruns and runs stuck waiting for a worker, seen from the scheduler: on each tick the engine hands its runs
in hand to OverrunWatch, which only compares clocks (no query on the loop's thread). Each started run's threshold
(task_expected_duration, or three times the median of the task's last 20 successful runs once it has 5:
rules.overrun_threshold) is read once, in the notices' pool, and an overrun is alerted once, while the run still
runs. A scheduled run that has not started (every worker busy: SCHEDULER_MAX_WORKERS) when its slot is past its
grace is a missed run."""
import logging

from django.db import close_old_connections, connection

from tasks_app.models import ExecutionStatus, TaskExecution

from . import incidents, rules, sender

log = logging.getLogger("Scheduler")
HISTORY = 20
# The engine ticks at every run's end during a burst, and a check walks every run in hand (hundreds claimed and
# waiting for a worker): at most one walk per quarter second. Thresholds are whole seconds, missed grace a minute.
CHECK_EVERY = 0.25


def threshold_for(task_pk, expected) -> float | None:
    """Seconds after which a run of the task is an overrun (None: not known yet)."""
    return thresholds_for({task_pk: expected})[task_pk]


def thresholds_for(tasks: dict) -> dict:
    """{task pk: threshold} for {task pk: its task_expected_duration}: the tasks without one read their recent
    successful durations in one query (the runs a tick finds started are asked for together)."""
    found = {pk: float(expected) for pk, expected in tasks.items() if expected}
    wanted = [pk for pk in tasks if pk not in found]
    if not wanted:
        return found
    close_old_connections()
    try:
        durations = _recent_durations(wanted)
    finally:
        close_old_connections()
    for pk in wanted:
        found[pk] = rules.overrun_threshold(None, durations.get(pk, []))
    return found


def _recent_durations(task_pks) -> dict:
    """{task pk: durations of its last HISTORY successful runs, newest first}: one UNION ALL of the per-task
    queries, each an index walk of its newest runs (a window over every run of a task would read them all).
    Raw SQL: the ORM refuses LIMIT inside a compound statement."""
    qn = connection.ops.quote_name
    table, pk = qn(TaskExecution._meta.db_table), qn(TaskExecution._meta.pk.column)
    one = (f"SELECT task_id, duration FROM (SELECT task_id, duration, {pk} FROM {table} WHERE task_id = %s "
           f"AND status = %s ORDER BY {pk} DESC LIMIT {HISTORY}) AS recent{{n}}")
    found = {}
    for start in range(0, len(task_pks), 100):  # SQLite allows 500 terms in a compound SELECT
        chunk = task_pks[start:start + 100]
        sql = " UNION ALL ".join(one.format(n=n) for n in range(len(chunk)))
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for task_pk in chunk for value in (task_pk, ExecutionStatus.SUCCESS.value)])
            rows = cursor.fetchall()
        for task_pk, duration in rows:  # each part's rows come in its own order, newest first
            found.setdefault(task_pk, []).append(duration)
    return found


class OverrunWatch:
    """Owned by the engine thread (no lock needed): the threshold of each run in hand, and which were alerted."""

    def __init__(self):
        self._thresholds = {}  # execution id -> Future of its threshold
        self._alerted = set()
        self._waited = {}  # execution id -> when it was first seen started after waiting for a worker
        self._waiting = set()  # execution ids seen not started yet
        self._missed = set()
        self._checked_at = None

    def check(self, running: dict, now, started=lambda pk: True) -> None:
        """`running`: execution id -> TaskExecution (task loaded) of the runs in hand; `started(pk)`: whether
        its process has started (the executor's pid journal)."""
        if self._checked_at is not None and abs((now - self._checked_at).total_seconds()) < CHECK_EVERY:
            return
        self._checked_at = now
        for pk in [pk for pk in set(self._thresholds) | self._waiting | self._missed if pk not in running]:
            self._thresholds.pop(pk, None)
            self._waited.pop(pk, None)
            for seen in (self._alerted, self._waiting, self._missed):
                seen.discard(pk)
        asked = {}  # the runs seen started for the first time: their thresholds, asked for in one job
        for pk, execution in running.items():
            if not started(pk):
                self._not_started(pk, execution, now)
                continue
            if pk in self._waiting:  # it waited for a worker: its time runs from now, not from its claim
                self._waiting.discard(pk)
                self._waited[pk] = now
            future = self._thresholds.get(pk)
            if future is None:
                asked[pk] = execution
                continue
            if pk in self._alerted or not future.done() or execution.start_time is None:
                continue
            try:
                threshold = future.result()[execution.task_id]
            except Exception as exc:  # the database was unreachable: try again on a later tick
                log.warning("Overrun threshold of execution %s unknown: %s", pk, exc)
                del self._thresholds[pk]
                continue
            elapsed = (now - self._waited.get(pk, execution.start_time)).total_seconds()
            if threshold is not None and elapsed >= threshold:
                self._alerted.add(pk)
                sender.submit(incidents.overrun, execution, elapsed, threshold)
        if asked:
            future = sender.pool().submit(thresholds_for, {e.task_id: e.task.task_expected_duration
                                                           for e in asked.values()})
            for pk in asked:
                self._thresholds[pk] = future

    def _not_started(self, pk, execution, now):
        self._waiting.add(pk)
        slot = execution.scheduled_time
        if pk in self._missed or execution.trigger != "schedule" or slot is None:
            return
        grace = max(execution.task.task_misfire_grace, rules.MISSED_AFTER_AT_LEAST)
        if (now - slot).total_seconds() > grace:
            self._missed.add(pk)
            sender.submit(incidents.missed, execution.task, slot,
                          f"waiting for a free worker for more than {grace} s (all SCHEDULER_MAX_WORKERS are busy)")
