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
from functools import lru_cache


from tasks_app.models import ExecutionStatus, Task, TaskExecution, TaskStatus, Trigger
from tasks_app.models.backfill import BACKFILL_HELD

from .columns import converters as column_converters, kind as column_kind, plain_types as column_plain_types
from .columns import readers as column_readers

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


def end_runs(ended) -> None:
    """Record how runs ended: [(execution, RunResult, stop_requested_by or "")], one executemany."""
    rows = []
    for execution, result, stop_by in ended:
        fields = result_fields(result)
        for name, value in fields.items():
            setattr(execution, name, value)
        rows.append((execution.pk, fields))
        if stop_by:  # a stop the scheduler decided; a user's name is already in the row, set by the web side
            TaskExecution.objects.filter(pk=execution.pk).update(stop_requested_by=stop_by)
            execution.stop_requested_by = stop_by
    update_rows(TaskExecution, rows)


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
    from django.utils import timezone

    now = timezone.now()
    rows = [(e.task_id, {"running": still, "last_execution": e.pk, "last_status": e.status,
                         "last_start_time": e.start_time, "last_end_time": e.end_time, "updated_at": now})
            for e, still in ended]
    if update_rows(TaskStatus, rows) < len(rows):
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


def update_rows(model, rows) -> int:
    """UPDATE model SET ... WHERE pk = ... for [(pk, {field: value})] that all set the same fields: one
    executemany, without the ORM's per-statement cost (a burst of 1,000 ends stays a few milliseconds).
    Returns how many rows were updated."""
    if not rows:
        return 0
    connection = _db()

    names = list(rows[0][1])
    fields = [model._meta.get_field(name) for name in names]
    qn = connection.ops.quote_name
    if connection.vendor == "postgresql":
        done = _update_rows_from_json(model, names, fields, rows, connection)
        if done is not None:
            return done
        if len(rows) > 1:
            return _update_rows_from_values(model, names, fields, rows)
    sql = (f"UPDATE {qn(model._meta.db_table)} SET "
           + ", ".join(f"{qn(f.column)} = %s" for f in fields)
           + f" WHERE {qn(model._meta.pk.column)} = %s")
    named = list(zip(names, column_converters(fields, connection)))
    params = [[convert(values[name]) for name, convert in named] + [pk] for pk, values in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return cursor.rowcount


def _update_rows_from_json(model, names, fields, rows, connection) -> int | None:
    """update_rows on PostgreSQL: one UPDATE ... FROM jsonb_to_recordset(one JSON document of every row), bound on
    the server. The document is made by json.dumps (C) and sent as one value, and the statement's text is the same
    whatever the rows, so psycopg prepares it after a few calls. Every other way costs Python work per value in
    psycopg: client-side binding quotes each value into a VALUES list psycopg parses again when it holds more than 50
    (a third of the engine thread's time on PostgreSQL), and arrays (UNNEST, tried) are dumped item by item. None (and
    nothing written) where a column or a value has no exact JSON form: update_rows then takes another way."""
    import json

    statement = _json_update(model, tuple(names))
    if statement is None:
        return None
    sql, encoders = statement
    given, rows = [pk for pk, _ in rows], list(dict(rows).items())  # a pk twice: its last values win, as one by one
    named = list(zip(names, encoders))
    try:
        document = json.dumps([[pk] + [encode(values[name]) for name, encode in named] for pk, values in rows],
                              allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError):  # NaN, or a value json cannot write as it is
        return None
    with _bound_cursor(connection) as cursor:
        cursor.execute(sql, [document])
        found = {pk for (pk,) in cursor.fetchall()}
    return sum(1 for pk in given if pk in found)  # as executemany counts: a row named twice, twice


@lru_cache(maxsize=64)
def _json_update(model, names):
    """(statement, encoders) of _update_rows_from_json for these fields of `model`, made once; None if a field has no
    JSON form here. Each encoder: value -> the JSON value PostgreSQL reads back as what the ORM would write."""
    from django.db import models

    connection = _db()
    qn = connection.ops.quote_name
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    encoders = []
    for field in fields:
        kind = column_kind(field)
        if kind == "instant":
            encoders.append(_instant_json(field))
        elif type(field) is models.JSONField and field.encoder is None:
            encoders.append(_plain_json)
        elif kind == "plain":
            encoders.append(_plain_value(field))
        else:
            return None
    kinds = [_json_column_type(f, connection) for f in [meta.pk] + fields]
    pk = qn(meta.pk.column)
    # Rows as arrays, not objects: a burst's document holds no column name per value. jsonb_to_recordset wants
    # objects, so each array is made one by jsonb_build_object over its positions.
    sql = (f"UPDATE {qn(meta.db_table)} AS t SET "
           + ", ".join(f"{qn(f.column)} = v.c{i}" for i, f in enumerate(fields, 1))
           + " FROM jsonb_to_recordset((SELECT jsonb_agg(jsonb_build_object("
           + ", ".join(f"'c{i}', r->{i}" for i in range(len(kinds)))
           + ")) FROM jsonb_array_elements(%s::jsonb) AS r)) AS v("
           + ", ".join(f"c{i} {kind}" for i, kind in enumerate(kinds))
           + f") WHERE t.{pk} = v.c0 RETURNING t.{pk}")
    return sql, encoders


def _plain_json(value):
    return value


def _plain_value(field):
    """A str, int, bool, float or None of the field's own kind as it is (as column_converters passes it), anything
    else through the field's get_db_prep_save."""
    _, passed = column_plain_types(field)

    def encode(value):
        if value is None or type(value) in passed:
            return value
        return field.get_db_prep_save(value, _db())
    return encode


def _instant_json(field):
    """An aware datetime as ISO 8601 with its offset; anything else first through the field's get_db_prep_save (on
    PostgreSQL the aware datetime the ORM would send)."""
    def encode(value):
        if value is None:
            return None
        if type(value) is not datetime or value.tzinfo is None:
            value = field.get_db_prep_save(value, _db())
        return value.isoformat()
    return encode


def _json_column_type(field, connection) -> str:
    """The column's type for jsonb_to_recordset, without a length: the UPDATE's assignment checks that, as the ORM's."""
    return field.db_type(connection).split("(")[0]


def _db():
    """The default database's own wrapper, once per call: `django.db.connection` is a proxy that looks the wrapper up
    (in asgiref's Local) at every attribute, and converting a batch's values reads connection.ops for each one,
    which made those lookups a seventh of the engine thread's time."""
    from django.db import DEFAULT_DB_ALIAS, connections

    return connections[DEFAULT_DB_ALIAS]


def _bound_cursor(connection):
    """PostgreSQL: a cursor of Django's connection (so in the caller's transaction, with Django's error wrapping,
    execute wrappers and query log) whose parameters are bound on the server. Django's own cursors bind them on the
    client (its server_side_binding option is off by default, and the ORM's SQL is not written for it): each value
    is quoted into the text in Python. Server-side binding suits the engine's few fixed statements: their text stays
    the same, so psycopg prepares them, and the values are sent as they are."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(psycopg.Cursor(connection.connection))


def _update_rows_from_values(model, names, fields, rows) -> int:
    """update_rows on PostgreSQL for a column or a value without a JSON form (_json_update): one UPDATE ... FROM
    (VALUES ...) per few thousand rows, not psycopg's executemany, which works through each row's statement in
    Python (its pipeline). Each value is cast to its column's type (VALUES alone would make them text)."""
    connection = _db()

    qn = connection.ops.quote_name
    meta = model._meta
    given, rows = [pk for pk, _ in rows], list(dict(rows).items())  # a pk twice: its last values win, as one by one
    named = list(zip(names, column_converters(fields, connection)))
    columns = [(qn(meta.pk.column), meta.pk.cast_db_type(connection))] + [
        (qn(f.column), f.cast_db_type(connection)) for f in fields]
    row_sql = "(" + ", ".join(f"%s::{kind}" for _, kind in columns) + ")"
    head = (f"UPDATE {qn(meta.db_table)} AS t SET " + ", ".join(f"{name} = v.{name}" for name, _ in columns[1:])
            + " FROM (VALUES ")
    tail = (f") AS v({', '.join(name for name, _ in columns)}) WHERE t.{columns[0][0]} = v.{columns[0][0]} "
            f"RETURNING t.{columns[0][0]}")
    per_statement = max(1, 60000 // len(columns))
    found = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            params = [value for pk, values in chunk
                      for value in [pk] + [convert(values[name]) for name, convert in named]]
            cursor.execute(head + ", ".join([row_sql] * len(chunk)) + tail, params)
            found.update(pk for (pk,) in cursor.fetchall())
    return sum(1 for pk in given if pk in found)  # as executemany counts: a row named twice, twice


def insert_rows(model, objs) -> None:
    """INSERT new instances of `model` and set their primary keys: one multi-row INSERT ... RETURNING per few
    hundred rows. The ORM's bulk_create compiles each value of each row (about 0.4 ms per execution row), which
    after downtime made recording 10,000 tasks' missed slots take seconds. Same order guarantee as bulk_create's
    (SQLite and PostgreSQL return the RETURNING rows in the order of the VALUES). On PostgreSQL one array per
    column (UNNEST, as bulk_create there): a burst's 200-row VALUES list was parsed again by psycopg at every call
    (it caches only short statements), a third of the engine thread's time claiming it."""
    if not objs:
        return
    from django.db.models.expressions import DatabaseDefault

    connection = _db()
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    read = column_readers(fields)
    values = [[r(obj) for r in read] for obj in objs]
    if any(isinstance(v, DatabaseDefault) for row in values for v in row):  # leave database defaults to the ORM
        model.objects.bulk_create(objs)
        return
    qn = connection.ops.quote_name
    convert = column_converters(fields, connection)
    kinds = _array_types(fields, connection) if len(objs) > 1 else None
    if kinds:  # PostgreSQL: one array per column, as Django's bulk_create does there (rows returned in order)
        sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) SELECT * FROM UNNEST("
               + ", ".join(f"(%s)::{kind}" for kind in kinds) + f") RETURNING {qn(meta.pk.column)}")
        with _bound_cursor(connection) as cursor:
            for start in range(0, len(objs), UNNEST_ROWS):
                chunk, rows = objs[start:start + UNNEST_ROWS], values[start:start + UNNEST_ROWS]
                cursor.execute(sql, [[c(row[i]) for row in rows] for i, c in enumerate(convert)])
                for obj, (pk,) in zip(chunk, cursor.fetchall()):
                    setattr(obj, meta.pk.attname, pk)
                    obj._state.adding, obj._state.db = False, connection.alias
        return
    per_statement = max(1, _max_parameters(connection) // len(fields))
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    head = f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) VALUES "
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start:start + per_statement]
            params = [c(v) for row in values[start:start + per_statement] for c, v in zip(convert, row)]
            cursor.execute(f"{head}{', '.join([row_sql] * len(chunk))} RETURNING {qn(meta.pk.column)}", params)
            for obj, (pk,) in zip(chunk, cursor.fetchall()):
                setattr(obj, meta.pk.attname, pk)
                obj._state.adding, obj._state.db = False, connection.alias


UNNEST_ROWS = 5000  # rows per statement with one array per column


def _array_types(fields, connection):
    """PostgreSQL: each field's array type for UNNEST ("varchar[]", "jsonb[]", ...: without a length, so nothing is
    cut), or None where that cannot be done (SQLite, or a field Django's bulk_create would not unnest either)."""
    if connection.vendor != "postgresql":
        return None
    kinds = []
    for field in fields:
        target = field.target_field if field.is_relation else field
        if hasattr(field, "get_placeholder") or target.get_internal_type() not in connection.data_types:
            return None
        kinds.append(field.db_type(connection).split("(")[0] + "[]")
    return kinds


def _max_parameters(connection) -> int:
    """How many query parameters one statement may hold: SQLite says (32,766 since 3.32), PostgreSQL 65,535."""
    if connection.vendor == "sqlite":
        import sqlite3

        connection.ensure_connection()
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return connection.features.max_query_params or 65535


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
