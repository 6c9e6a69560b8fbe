"""The engine's hand-written statements for many rows at once (bookkeeping.py's writes, the job store's): one
multi-row INSERT ... RETURNING, and one UPDATE for many rows that set the same columns, without the ORM's
per-row and per-value cost. Values are converted as the ORM converts them (columns.py)."""
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from .columns import converters as column_converters, kind as column_kind
from .columns import readers as column_readers


def update_rows(model, rows) -> int:
    """UPDATE model SET ... WHERE pk = ... for [(pk, {field: value})] that all set the same fields: one executemany
    (on PostgreSQL one statement), without the ORM's per-statement cost (a burst of 1,000 ends stays a few
    milliseconds). Returns how many rows were updated."""
    if not rows:
        return 0
    connection = _db()

    names = list(rows[0][1])
    fields = [model._meta.get_field(name) for name in names]
    qn = connection.ops.quote_name
    if connection.vendor == "postgresql":
        done = _update_rows_from_json(model, names, rows, connection)
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


def update_tables(writes) -> list[int]:
    """update_rows for each (model, rows) of `writes` (each model once): how many rows of each were updated. On
    PostgreSQL one statement for all of them where each has its JSON form (one data-modifying WITH per table): a
    run's end and its task's status were two round trips, and two passes through psycopg and Django's cursor."""
    connection = _db()
    present = [i for i, (_, rows) in enumerate(writes) if rows]
    statements = None
    if connection.vendor == "postgresql" and len(present) > 1:
        statements = [_json_write(*writes[i]) for i in present]
    if not statements or None in statements:
        return [update_rows(model, rows) for model, rows in writes]
    sql = ("WITH " + ", ".join(f"u{n} AS ({sql})" for n, (sql, _, _) in enumerate(statements)) + " "
           + " UNION ALL ".join(f"SELECT {n}, * FROM u{n}" for n in range(len(statements))))
    with _bound_cursor(connection) as cursor:
        cursor.execute(sql, [document for _, document, _ in statements])
        found = [set() for _ in statements]
        for which, pk in cursor.fetchall():
            found[which].add(pk)
    counts = [0] * len(writes)
    for i, (_, _, given), seen in zip(present, statements, found):
        counts[i] = sum(1 for pk in given if pk in seen)  # as executemany counts: a row named twice, twice
    return counts


def _json_write(model, rows):
    """(statement, its JSON document, the pks as given) of _update_rows_from_json, or None where it has no JSON
    form."""
    import json

    names = list(rows[0][1])
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
    return sql, document, given


def _update_rows_from_json(model, names, rows, connection) -> int | None:
    """update_rows on PostgreSQL: one UPDATE ... FROM jsonb_to_recordset(one JSON document of every row), bound on
    the server. The document is made by json.dumps (C) and sent as one value, and the statement's text is the same
    whatever the rows, so psycopg prepares it after a few calls. Every other way costs Python work per value in
    psycopg: client-side binding quotes each value into a VALUES list psycopg parses again when it holds more than 50
    (a third of the engine thread's time on PostgreSQL), and arrays (UNNEST, tried) are dumped item by item. None (and
    nothing written) where a column or a value has no exact JSON form: update_rows then takes another way."""
    write = _json_write(model, rows)
    if write is None:
        return None
    sql, document, given = write
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
    encoders, instants = [], set()
    for field in fields:
        how, passed = column_kind(field)
        if how == "instant":
            encoders.append(_instant_json(field))
            instants.add(field)
        elif type(field) is models.JSONField and field.encoder is None:
            encoders.append(_plain_json)
        elif how == "plain":
            encoders.append(_plain_value(field, passed))
        else:
            return None
    kinds = ["bigint" if f in instants else _json_column_type(f, connection) for f in [meta.pk] + fields]
    pk = qn(meta.pk.column)
    # Rows as arrays, not objects: a burst's document holds no column name per value. jsonb_to_recordset wants
    # objects, so each array is made one by jsonb_build_object over its positions. An instant travels as whole
    # microseconds since the epoch, made back into a timestamp from its whole seconds and the rest: multiplying an
    # interval goes through a double, which is not exact beyond 2**53 microseconds (the year 2255).
    sql = (f"UPDATE {qn(meta.db_table)} AS t SET "
           + ", ".join(f"{qn(f.column)} = to_timestamp((v.c{i} / 1000000)::float8)"
                       f" + (v.c{i} %% 1000000) * INTERVAL '1 microsecond'" if f in instants
                       else f"{qn(f.column)} = v.c{i}" for i, f in enumerate(fields, 1))
           + " FROM jsonb_to_recordset((SELECT jsonb_agg(jsonb_build_object("
           + ", ".join(f"'c{i}', r->{i}" for i in range(len(kinds)))
           + ")) FROM jsonb_array_elements(%s::jsonb) AS r)) AS v("
           + ", ".join(f"c{i} {kind}" for i, kind in enumerate(kinds))
           + f") WHERE t.{pk} = v.c0 RETURNING t.{pk}")
    return sql, encoders


def _plain_json(value):
    return value


def _plain_value(field, passed):
    """A str, int, bool, float or None of the field's own kind (`passed`) as it is (as column_converters passes it),
    anything else through the field's get_db_prep_save."""
    def encode(value):
        if value is None or type(value) in passed:
            return value
        return field.get_db_prep_save(value, _db())
    return encode


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def _instant_json(field):
    """An aware datetime as whole microseconds since the epoch (a JSON integer: about a third of the cost of its ISO
    text, and the server reads it without parsing a date); anything else first through the field's get_db_prep_save
    (on PostgreSQL the aware datetime the ORM would send)."""
    def encode(value):
        if value is None:
            return None
        if type(value) is not datetime or value.tzinfo is None:
            value = field.get_db_prep_save(value, _db())
        return (value - _EPOCH) // _MICROSECOND
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
