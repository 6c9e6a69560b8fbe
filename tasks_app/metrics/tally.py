"""Folding ended runs and opened incidents into the running totals of models/tally.py: each run once, in batches,
under TallyMark's lock. A scrape folds what ended since the last one (a few rows: the flag's partial index finds
them), the daily housekeeping folds before it deletes, so a run deleted by the retention was counted first."""
import bisect
import logging
from collections import defaultdict

from django.db import Error as DatabaseError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from tasks_app.models import (ExecutionStatus, ExecutionTally, Incident, IncidentTally, TallyMark, TaskExecution,
                              Trigger)
from tasks_app.models.execution import UNTALLIED
from tasks_app.models.tally import DURATION_BUCKETS, LATENESS_BUCKETS, empty_buckets

log = logging.getLogger("WebInterface")

BATCH = 5000
# One scrape adds at most this many runs (the first scrape after an upgrade finds the whole history untallied):
# the rest is added by the next scrapes, so a scrape stays within Prometheus's timeout and counters only rise.
AT_MOST = 100_000
# The statuses a run that ran ends with; skipped never ran, and stopped ran only if it has a return code.
RAN = {ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT, ExecutionStatus.LOST}


def fold(at_most: int = AT_MOST) -> int:
    """Add the runs that ended and the incidents opened since the last fold; returns how many runs were added.
    A database that refuses (locked, gone) leaves them for the next fold: the totals lag, they never go wrong."""
    added, races = 0, 0
    try:
        # Most scrapes find nothing new: then no write, so a scrape never waits for SQLite's write lock.
        if not TaskExecution.objects.filter(UNTALLIED).exists() and not Incident.objects.filter(tallied=False).exists():
            return 0
        while added < at_most and races < 3:
            try:
                with transaction.atomic():
                    TallyMark.hold(timezone.now())
                    count = _fold_runs(min(BATCH, at_most - added))
                    _fold_incidents()
            except _Raced:
                races += 1  # rolled back: another fold counted these rows first; read what is left
                continue
            added += count
            if count < BATCH:
                break
    except DatabaseError as exc:
        log.warning("Metrics: could not add ended runs to the totals (%s); the next scrape tries again", exc)
    return added


class _Raced(Exception):
    """Rows this fold read were marked by another one meanwhile (only without TallyMark's lock): undo the batch."""


def ran(status, return_code) -> bool:
    """Whether a run that ended with `status` ran its script (its duration means something)."""
    return status in RAN or (status == ExecutionStatus.STOPPED and return_code is not None)


def _fold_runs(limit) -> int:
    rows = list(TaskExecution.objects.filter(UNTALLIED).order_by("execution_id")
                .values_list("execution_id", "task_id", "status", "trigger", "scheduled_time", "start_time",
                             "duration", "return_code")[:limit])
    if not rows:
        return 0
    sums = defaultdict(_Sums)
    for _pk, task_pk, status, trigger, slot, start, duration, return_code in rows:
        ran_script = ran(status, return_code)
        sums[(task_pk, status)].add(trigger, slot, start, duration, ran_script)
        sums[(None, status)].add(trigger, slot, start, duration, ran_script)  # all tasks together
    _add_to_tallies(sums)
    # The conditional UPDATE is the claim: a row count short of the batch means another fold got there first.
    if TaskExecution.objects.filter(execution_id__in=[row[0] for row in rows], tallied=False).update(
            tallied=True) != len(rows):
        raise _Raced
    return len(rows)


def _add_to_tallies(sums) -> None:
    task_pks = {task_pk for task_pk, _ in sums if task_pk is not None}
    existing = {(t.task_id, t.status): t for t in ExecutionTally.objects.filter(
        Q(task_id__in=task_pks) | Q(task__isnull=True))}
    changed, new = [], []
    for key, part in sums.items():
        tally = existing.get(key)
        if tally is None:
            tally = ExecutionTally(task_id=key[0], status=key[1], duration_buckets=empty_buckets(DURATION_BUCKETS),
                                   lateness_buckets=empty_buckets(LATENESS_BUCKETS))
            new.append(tally)
        else:
            changed.append(tally)
        tally.count += part.count
        tally.duration_sum += part.duration_sum
        tally.duration_buckets = add_buckets(tally.duration_buckets, part.duration_buckets)
        tally.lateness_sum += part.lateness_sum
        tally.lateness_buckets = add_buckets(tally.lateness_buckets, part.lateness_buckets)
    ExecutionTally.objects.bulk_create(new)
    _update_each(changed, ["count", "duration_sum", "duration_buckets", "lateness_sum", "lateness_buckets"])


def _update_each(tallies, names) -> None:
    """One UPDATE per row, sent as one executemany: bulk_update's CASE over thousands of rows costs seconds."""
    if not tallies:
        return
    fields = [ExecutionTally._meta.get_field(name) for name in names]
    qn = connection.ops.quote_name
    sql = (f"UPDATE {qn(ExecutionTally._meta.db_table)} SET "
           + ", ".join(f"{qn(field.column)} = %s" for field in fields) + f" WHERE {qn('id')} = %s")
    params = [[field.get_db_prep_save(getattr(tally, field.attname), connection) for field in fields] + [tally.pk]
              for tally in tallies]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _fold_incidents() -> None:
    rows = list(Incident.objects.filter(tallied=False).order_by("id").values_list("id", "kind")[:BATCH])
    if not rows:
        return
    by_kind = defaultdict(int)
    for _pk, kind in rows:
        by_kind[kind] += 1
    existing = {t.kind: t for t in IncidentTally.objects.filter(kind__in=by_kind)}
    for kind, count in by_kind.items():
        tally = existing.get(kind) or IncidentTally(kind=kind)
        tally.count += count
        tally.save()
    if Incident.objects.filter(id__in=[pk for pk, _ in rows], tallied=False).update(tallied=True) != len(rows):
        raise _Raced


def add_buckets(stored, added) -> list[int]:
    """Bucket counts added; a stored list of another length (bounds changed without the migration) is padded."""
    stored = list(stored or [])
    stored += [0] * (len(added) - len(stored))
    return [a + b for a, b in zip(stored, added)] + stored[len(added):]


class _Sums:
    """The part of one (task, status) tally that one batch adds."""

    def __init__(self):
        self.count = 0
        self.duration_sum = 0.0
        self.duration_buckets = empty_buckets(DURATION_BUCKETS)
        self.lateness_sum = 0.0
        self.lateness_buckets = empty_buckets(LATENESS_BUCKETS)

    def add(self, trigger, slot, start, duration, ran_script):
        self.count += 1
        if not ran_script:
            return
        if duration is not None:
            self.duration_sum += duration
            self.duration_buckets[bisect.bisect_left(DURATION_BUCKETS, duration)] += 1
        if trigger == Trigger.SCHEDULE and slot is not None and start is not None:
            # A fire a little before its slot (clock steps) is on time, not early.
            lateness = max(0.0, (start - slot).total_seconds())
            self.lateness_sum += lateness
            self.lateness_buckets[bisect.bisect_left(LATENESS_BUCKETS, lateness)] += 1
