"""batchwrites.update_rows, the engine's one statement for many rows' ends and statuses (an executemany on SQLite,
one UPDATE ... FROM jsonb_to_recordset on PostgreSQL): every column type it writes comes back as written, a row
named twice takes its last values, and the count says how many rows of the table it found."""
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks_app.engine.batchwrites import update_rows, update_tables
from tasks_app.models import Task, TaskExecution, TaskStatus

pytestmark = pytest.mark.django_db

T1, T2 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC), datetime(2026, 11, 30, 6, 1, 30, 250000, tzinfo=UTC)


def test_many_rows_of_every_kind_of_column_are_written_and_a_row_named_twice_keeps_its_last_values():
    tasks = [Task.objects.create(task_id=f"t{i}", task_name=f"t{i}", task_exec="ok.py") for i in range(3)]
    runs = [TaskExecution.objects.create(task=task, status="running", trigger="manual", start_time=T1)
            for task in tasks]
    fields = lambda status, code, limits: {  # noqa: E731
        "status": status, "return_code": code, "error_message": "", "end_time": T2, "duration": 1.5,
        "output_truncated": code == 1, "pid": None, "limits": limits}

    count = update_rows(TaskExecution, [
        (runs[0].pk, fields("success", 0, {"mechanism": "cgroup-v1", "memory": None})),
        (runs[1].pk, fields("failed", 1, None)),
        (runs[0].pk, fields("timeout", -9, {"mechanism": "setrlimit"})),
        (999999, fields("success", 0, None)),  # no such row
    ])

    assert count == 3
    first, second, third = (TaskExecution.objects.get(pk=run.pk) for run in runs)
    assert (first.status, first.return_code, first.limits, first.output_truncated) == (
        "timeout", -9, {"mechanism": "setrlimit"}, False)
    assert (second.status, second.return_code, second.limits, second.output_truncated, second.pid) == (
        "failed", 1, None, True, None)
    assert (first.end_time, first.duration, first.start_time) == (T2, 1.5, T1)
    assert third.status == "running"


def test_statuses_of_many_tasks_in_one_statement():
    tasks = [Task.objects.create(task_id=f"s{i}", task_name=f"s{i}", task_exec="ok.py") for i in range(4)]
    for task in tasks:
        TaskStatus.objects.create(task=task)

    count = update_rows(TaskStatus, [(task.pk, {"running": i % 2 == 0, "next_run_time": T2 if i else None})
                                     for i, task in enumerate(tasks)])

    assert count == 4
    assert [(s.running, s.next_run_time) for s in TaskStatus.objects.filter(task__in=tasks).order_by("task_id")] == [
        (True, None), (False, T2), (True, T2), (False, T2)]


def test_every_column_of_an_execution_is_written_as_the_orm_writes_it_one_row_or_several():
    """update_rows against the ORM's update() with the same values, column by column (on PostgreSQL: the rows in
    one JSON document, bound on the server), for one row and for several, with awkward texts, JSON and empty
    values."""
    from django.db.models import DateTimeField

    task = Task.objects.create(task_id="cols", task_name="cols", task_exec="ok.py")
    fields = [f for f in TaskExecution._meta.concrete_fields
              if not f.primary_key and not (isinstance(f, DateTimeField) and (f.auto_now or f.auto_now_add))]
    texts = ['it said "no", {braced} \\ NULL, 50%', "", "ünïcode ✓ 東京", "x" * 2000]
    values = []
    for i in range(5):
        values.append({f.attname: value for f, value in zip(fields, _column_values(fields, task, i, texts[i % 4]))})
    for count in (1, 5):
        ours = [TaskExecution.objects.create(task=task, status="queued", trigger="manual") for _ in range(count)]
        orms = [TaskExecution.objects.create(task=task, status="queued", trigger="manual") for _ in range(count)]
        with CaptureQueriesContext(connection) as queries:
            assert update_rows(TaskExecution, [(run.pk, values[i]) for i, run in enumerate(ours)]) == count
        if connection.vendor == "postgresql":  # one statement, its values in one JSON document
            assert len(queries) == 1 and "jsonb_to_recordset" in queries[0]["sql"]
        for i, run in enumerate(orms):
            TaskExecution.objects.filter(pk=run.pk).update(**values[i])
        names = [f.attname for f in fields]
        for mine, theirs in zip(ours, orms):
            assert (TaskExecution.objects.filter(pk=mine.pk).values(*names).get()
                    == TaskExecution.objects.filter(pk=theirs.pk).values(*names).get())


def _column_values(fields, task, i, text):
    """A value of each field's own kind (every other row: None wherever the column allows it)."""
    from django.db import models

    empty = i % 2 == 1
    found = []
    for field in fields:
        if field.null and empty:
            found.append(None)
        elif isinstance(field, models.ForeignKey):
            found.append(task.pk if field.related_model is Task else None)
        elif field.name == "trigger":
            found.append("manual")  # a scheduled run's slot is unique to its task
        elif isinstance(field, models.JSONField):
            found.append({"text": text, "n": i, "list": [1, None, "a, {b}"], "none": None})
        elif isinstance(field, models.DateTimeField):
            found.append(datetime(2030, 1, 2, 3, 4, 5, 6789 * (i + 1), tzinfo=UTC))
        elif isinstance(field, models.BooleanField):
            found.append(i % 2 == 0)
        elif isinstance(field, models.FloatField):
            found.append(1.25 + i)
        elif isinstance(field, models.PositiveIntegerField):
            found.append(i + 1)
        elif isinstance(field, models.IntegerField):
            found.append(-9 + i)
        elif field.choices:
            found.append(field.choices[i % len(field.choices)][0])
        else:
            found.append(text[:field.max_length] if field.max_length else text)
    return found


def test_a_value_json_cannot_hold_is_written_as_the_orm_writes_it():
    """NaN has no JSON form: on PostgreSQL that batch takes the VALUES statement instead, with the same result."""
    import math

    task = Task.objects.create(task_id="nan", task_name="nan", task_exec="ok.py")
    ours, theirs = (TaskExecution.objects.create(task=task, status="running", trigger="manual") for _ in range(2))
    fields = {"duration": float("nan"), "end_time": T2, "error_message": "x"}
    other = TaskExecution.objects.create(task=task, status="running", trigger="manual")
    assert update_rows(TaskExecution, [(ours.pk, fields), (other.pk, {**fields, "duration": 2.0})]) == 2
    TaskExecution.objects.filter(pk=theirs.pk).update(**fields)
    mine, orm = (TaskExecution.objects.get(pk=run.pk) for run in (ours, theirs))
    assert (mine.end_time, mine.error_message) == (orm.end_time, orm.error_message) == (T2, "x")
    assert (mine.duration is None and orm.duration is None) or (math.isnan(mine.duration) and math.isnan(orm.duration))
    assert TaskExecution.objects.get(pk=other.pk).duration == 2.0


def test_instants_of_any_zone_and_era_are_written_to_the_microsecond():
    """On PostgreSQL an instant travels as microseconds since the epoch: before 1970, far ahead, in another zone,
    with every microsecond digit, each read back as the ORM wrote the same value."""
    from zoneinfo import ZoneInfo

    task = Task.objects.create(task_id="instants", task_name="instants", task_exec="ok.py")
    moments = [datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(1900, 3, 1, 0, 0, 0, 1, tzinfo=UTC),
               datetime(2026, 3, 29, 2, 30, 0, 123457, tzinfo=ZoneInfo("Asia/Shanghai")),
               datetime(2999, 12, 31, 23, 59, 59, 987654, tzinfo=ZoneInfo("America/New_York")),
               datetime(2026, 11, 30, 18, 0, 0, 500001, tzinfo=UTC)]
    runs = [TaskExecution.objects.create(task=task, status="queued", trigger="manual") for _ in moments]
    rows = [(run.pk, {"start_time": moment, "end_time": moment - timedelta(microseconds=1)})
            for run, moment in zip(runs, moments)]
    assert update_rows(TaskExecution, rows) == len(rows)
    for run, moment in zip(runs, moments):
        run.refresh_from_db()
        assert run.start_time == moment and run.end_time == moment - timedelta(microseconds=1)


def test_ends_and_statuses_are_written_together_and_counted_per_table():
    """update_tables: a burst's ends and their tasks' statuses (on PostgreSQL in one statement), each table's count
    its own, a row that is missing counted as not found."""
    tasks = [Task.objects.create(task_id=f"e{i}", task_name=f"e{i}", task_exec="ok.py") for i in range(3)]
    TaskStatus.objects.filter(task=tasks[2]).delete()  # a task without its status row
    for task in tasks[:2]:
        TaskStatus.objects.get_or_create(task=task)
    runs = [TaskExecution.objects.create(task=task, status="running", trigger="manual", start_time=T1)
            for task in tasks]
    ends = [(run.pk, {"status": "success", "return_code": 0, "end_time": T2}) for run in runs]
    ends.append((999999, {"status": "failed", "return_code": 1, "end_time": T2}))
    statuses = [(task.pk, {"running": False, "last_status": "success", "last_end_time": T2}) for task in tasks]

    with CaptureQueriesContext(connection) as queries:
        counts = update_tables([(TaskExecution, ends), (TaskStatus, statuses), (TaskStatus, [])])

    assert counts == [3, 2, 0]
    if connection.vendor == "postgresql":
        assert len(queries) == 1
    assert [(r.status, r.return_code, r.end_time) for r in TaskExecution.objects.filter(pk__in=[r.pk for r in runs])
            ] == [("success", 0, T2)] * 3
    assert [(s.running, s.last_status, s.last_end_time) for s in TaskStatus.objects.filter(task__in=tasks)] == [
        (False, "success", T2)] * 2
