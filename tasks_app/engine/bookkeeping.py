"""The scheduler's database writes for executions and TaskStatus.

Statuses of a TaskExecution:
  queued   waiting: a "run now" or a retry (worker "" until a scheduler claims it; a retry also waits for
           not_before), or a run held back until the current one ends by the overlap policy "queue" or
           "replace" (worker set).
  running  claimed by a scheduler (worker, start_time set) and handed to its executor; node names where it
           runs: the scheduler itself, or the Celery worker that claimed it (empty while it waits in a queue).
  success  the script exited 0.
  failed   it exited non-zero (error_message "exit code N"), or could not be started.
  timeout  it ran past task_timeout; its process group was ended (return_code -15 or -9).
  stopped  a user (stop_requested_by), the overlap policy "replace" or a scheduler shutdown stopped it;
           a queued run or pending retry that was cancelled is stopped too.
  skipped  it did not run: the overlap policy "skip" (or a newer run replaced it while it waited), a
           dependency that did not succeed, its task was disabled before it started (a pending retry or
           a waiting scheduled run), or slots missed while the scheduler was down or the clock leapt (one
           record says how many between which times).
  lost     the scheduler that ran it died (kill -9, power loss); found when the next scheduler starts. Or the
           Celery worker that ran it stopped sending heartbeats; then it is retried per task_retry.
When a run ends, end_time, duration and error_message (why, for anything but success) are always filled,
and start_time too (for a run that never started: the moment it was decided). return_code is the exit
status, or minus the signal that ended it; it stays empty only when no process ran (skipped, or stopped
while queued) or its end was never seen (lost).

Each run costs two commits: the claim (row written as running, TaskStatus and the job store's next
fire time in the same transaction) and the end (result + TaskStatus, and a retry row if one is due). On
Celery, two more: the worker's claim of the row (workers/runs.py) and its own write of the end.
The pid of a running child is appended to a journal file (journal.py), and stored in the row's pid
column with the end: the journal is only for crash recovery, so recording the pid costs no third commit."""
import logging
from datetime import datetime
from datetime import timezone as dt_timezone


from tasks_app.models import ExecutionStatus, Task, TaskExecution, TaskStatus, Trigger
from tasks_app.models.backfill import BACKFILL_HELD

# The statements for many rows at once (starts.py claims through bk.insert_rows, as through every other write here).
from .batchwrites import insert_rows, update_rows, update_tables  # noqa: F401

log = logging.getLogger("Scheduler")


def claim_queued(execution, *, now, worker, node) -> bool:
    """Take a queued run nobody has claimed (run now, retry). False if another process got there first
    (claimed, or stopped by a user) - the conditional UPDATE is what makes the claim safe. `node`: where it
    runs ("" until a Celery worker claims it in its turn)."""
    claimed = TaskExecution.objects.filter(
        pk=execution.pk, status=ExecutionStatus.QUEUED, worker=""
    ).update(status=ExecutionStatus.RUNNING, worker=worker, start_time=now, node=node)
    if claimed:
        execution.status, execution.worker, execution.start_time = ExecutionStatus.RUNNING, worker, now
        execution.node = node
    return claimed == 1


def start_waiting(execution, *, now, node) -> bool:
    """Start a run this scheduler held back (overlap "queue"); False if a user stopped it meanwhile."""
    started = TaskExecution.objects.filter(pk=execution.pk, status=ExecutionStatus.QUEUED).update(
        status=ExecutionStatus.RUNNING, start_time=now, node=node)
    if started:
        execution.status, execution.start_time, execution.node = ExecutionStatus.RUNNING, now, node
    return started == 1


def skip_queued(execution, *, now, worker, reason, held=False) -> bool:
    """Record a queued run nobody has claimed (or, held, one this scheduler holds back) as skipped; False if
    another process got there first or a user stopped it."""
    done = TaskExecution.objects.filter(pk=execution.pk, status=ExecutionStatus.QUEUED,
                                        worker=worker if held else "").update(
        status=ExecutionStatus.SKIPPED, worker=worker, start_time=now, end_time=now, duration=0.0,
        error_message=reason)
    if done:
        execution.status, execution.error_message, execution.end_time = ExecutionStatus.SKIPPED, reason, now
    return done == 1


def hold_queued(execution, *, worker) -> bool:
    """Claim a queued run (run now, retry) to wait behind the running one (overlap "queue")."""
    return TaskExecution.objects.filter(pk=execution.pk, status=ExecutionStatus.QUEUED, worker="").update(
        worker=worker) == 1


def result_fields(result) -> dict:
    """The columns of an execution that a RunResult fills."""
    return dict(
        status=result.status, return_code=result.return_code, error_message=result.error_message or "",
        start_time=result.start_time, end_time=result.end_time, duration=result.duration,
        output_truncated=result.output_truncated, pid=result.pid,
        leftover_processes=result.leftover_processes, run_as=result.run_as, limits=result.limits,
    )


def ended_rows(ended) -> list:
    """How runs ended, [(execution, RunResult, stop_requested_by or "")], as rows for ends_and_statuses: the
    executions are given their results (stop_requested_by is written now)."""
    rows = []
    for execution, result, stop_by in ended:
        fields = result_fields(result)
        for name, value in fields.items():
            setattr(execution, name, value)
        rows.append((execution.pk, fields))
        if stop_by:  # a stop the scheduler decided; a user's name is already in the row, set by the web side
            TaskExecution.objects.filter(pk=execution.pk).update(stop_requested_by=stop_by)
            execution.stop_requested_by = stop_by
    return rows


def ends_and_statuses(rows, statuses) -> None:
    """ended_rows' rows and statuses_ended's together: on PostgreSQL one statement."""
    status_rows = _status_rows(statuses)
    _, found = update_tables([(TaskExecution, rows), (TaskStatus, status_rows)])
    _statuses_missing(status_rows, found)


def end_unfinished(ids, *, status, reason, now, only_active=True) -> int:
    """Close executions that will never report (lost, stopped at shutdown): times, duration and why."""
    rows = TaskExecution.objects.filter(pk__in=list(ids))
    if only_active:
        rows = rows.filter(status__in=ExecutionStatus.active())
    count = 0
    for pk, start in rows.values_list("pk", "start_time"):
        duration = max(0.0, (now - start).total_seconds()) if start else 0.0
        count += TaskExecution.objects.filter(pk=pk).update(
            status=status, error_message=reason, end_time=now, duration=round(duration, 3),
            start_time=start or now)
    return count


def new_retry(execution, *, end_time, interval) -> TaskExecution:
    """The next attempt of a failed run: queued for any scheduler, not before end + task_retry_interval."""
    from datetime import timedelta

    retry = TaskExecution.objects.create(
        task_id=execution.task_id, status=ExecutionStatus.QUEUED, trigger=Trigger.RETRY,
        scheduled_time=execution.scheduled_time, attempt=execution.attempt + 1,
        not_before=end_time + timedelta(seconds=interval), requested_by=execution.requested_by, worker="",
        backfill_id=execution.backfill_id,  # a backfill's retry stays in its group and counts in its concurrency
        env_overrides=execution.env_overrides,  # a retry runs with the values its first attempt was given
    )
    retry.task = execution.task
    return retry


def status_started_many(task_pks, *, now) -> None:
    """Tasks that just started a run: one UPDATE for all of them."""
    if task_pks:
        _status_update_many(list(task_pks), {"running": True, "last_start_time": now})


def status_next_many(next_runs: dict) -> None:
    """task pk -> next fire time; one executemany (at start-up the times are mostly all different: one UPDATE
    per distinct time was a third of starting 50,000 tasks)."""
    from django.utils import timezone

    now = timezone.now()
    if update_rows(TaskStatus, [(pk, {"next_run_time": moment, "updated_at": now})
                                for pk, moment in next_runs.items()]) < len(next_runs):
        # Some task has no status row yet (written straight into the table), or was just deleted.
        have = set(TaskStatus.objects.filter(pk__in=list(next_runs)).values_list("pk", flat=True))
        for pk in set(next_runs) - have:
            _status_update(pk, {"next_run_time": next_runs[pk]})


def status_next_run(task_pk, next_run_time) -> None:
    _status_update(task_pk, {"next_run_time": next_run_time})


def statuses_ended(ended) -> None:
    """[(execution, still_running)] -> TaskStatus rows, one executemany (the last run of a task wins)."""
    rows = _status_rows(ended)
    _statuses_missing(rows, update_rows(TaskStatus, rows))


def _status_rows(ended) -> list:
    from django.utils import timezone

    now = timezone.now()
    return [(e.task_id, {"running": still, "last_execution": e.pk, "last_status": e.status,
                         "last_start_time": e.start_time, "last_end_time": e.end_time, "updated_at": now})
            for e, still in ended]


def _statuses_missing(rows, found) -> None:
    """Statuses update_rows did not find (found: how many it updated): a task without a status row yet."""
    if found < len(rows):
        have = set(TaskStatus.objects.filter(pk__in=[pk for pk, _ in rows]).values_list("pk", flat=True))
        for pk, fields in rows:
            if pk not in have:
                fields["last_execution_id"] = fields.pop("last_execution")
                _status_update(pk, fields)


def poll(worker: str):
    """The scheduler's tick in one raw query (it runs twice a second, so the ORM's cost would show as idle
    CPU): (configuration version, [(id, not_before)] of queued runs nobody claimed, [(id, who)] of this
    worker's running runs that someone asked to stop, how many backfill runs are held back)."""
    from django.db import connection

    from tasks_app.models import ConfigVersion

    qn = connection.ops.quote_name
    runs, marker = qn(TaskExecution._meta.db_table), qn(ConfigVersion._meta.db_table)
    sql = (f"SELECT 0, version, NULL, NULL FROM {marker} WHERE id = 1 "
           f"UNION ALL SELECT 1, execution_id, not_before, NULL FROM {runs} WHERE status = %s AND worker = '' "
           f"UNION ALL SELECT 2, execution_id, NULL, stop_requested_by FROM {runs} "
           f"WHERE status = %s AND worker = %s AND stop_requested_by <> '' "
           f"UNION ALL SELECT 3, COUNT(*), NULL, NULL FROM {runs} WHERE status = %s AND worker = %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [ExecutionStatus.QUEUED.value, ExecutionStatus.RUNNING.value, worker,
                             ExecutionStatus.QUEUED.value, BACKFILL_HELD])
        rows = cursor.fetchall()
    version, queued, stops, held = 0, [], [], 0
    for kind, number, moment, who in rows:
        if kind == 0:
            version = number
        elif kind == 1:
            queued.append((number, _utc(moment)))
        elif kind == 2:
            stops.append((number, who))
        else:
            held = number
    return version, queued, stops, held


def _utc(value):
    """A datetime column read through UNION: SQLite hands back its text, PostgreSQL a datetime."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=dt_timezone.utc)
    return datetime.fromisoformat(str(value)).replace(tzinfo=dt_timezone.utc)


def _status_update_many(task_pks, fields):
    from django.utils import timezone

    fields["updated_at"] = timezone.now()
    if TaskStatus.objects.filter(pk__in=task_pks).update(**fields) < len(set(task_pks)):
        have = set(TaskStatus.objects.filter(pk__in=task_pks).values_list("pk", flat=True))
        for pk in set(task_pks) - have:
            _status_update(pk, dict(fields))


def _status_update(task_pk, fields):
    from django.utils import timezone

    fields["updated_at"] = timezone.now()  # update() skips auto_now
    if TaskStatus.objects.filter(pk=task_pk).update(**fields):
        return
    # No status row yet (a task written straight into the table), or the task was just deleted: then
    # there is nothing to record, and inserting would break the whole batch's commit.
    if Task.objects.filter(pk=task_pk).exists():
        TaskStatus.objects.get_or_create(task_id=task_pk, defaults=fields)
