"""batchwrites.insert_rows: the Starter's rows written by multi-row INSERT ... RETURNING, a few statements for
thousands of rows, each instance given the primary key of its own row (the missed records after downtime)."""
from datetime import datetime, timedelta, timezone

import pytest

from tasks_app.engine import batchwrites
from tasks_app.models import ExecutionStatus, TaskExecution, Trigger

pytestmark = pytest.mark.django_db


def test_thousands_of_rows_over_several_statements_each_get_their_own_primary_key(make_task):
    task = make_task("many")
    first = datetime(2031, 1, 1, tzinfo=timezone.utc)
    rows = [TaskExecution(task=task, trigger=Trigger.SCHEDULE, scheduled_time=first + timedelta(minutes=i),
                          status=ExecutionStatus.SKIPPED, start_time=first, end_time=first, duration=0.0,
                          error_message=f'missed {i}, "quoted" {{braced}} \\ NULL', worker="w",
                          limits={"n": i, "text": "a, {b}"} if i % 2 else None) for i in range(3000)]
    batchwrites.insert_rows(TaskExecution, rows)

    stored = {pk: (message, limits) for pk, message, limits in
              TaskExecution.objects.filter(task=task).values_list("pk", "error_message", "limits")}
    assert len(stored) == 3000 and len({e.pk for e in rows}) == 3000
    assert all(stored[e.pk] == (e.error_message, e.limits) for e in rows)  # each instance holds its own row's key
    assert all(e.queued_at is not None and not e._state.adding for e in rows)  # auto_now_add filled, as the ORM


def test_each_column_is_converted_as_the_orm_would_convert_it(make_task):
    from django.db import connection

    from tasks_app.engine import columns
    from tasks_app.models import TaskStatus

    task = make_task("converted")
    moment = datetime(2031, 1, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)
    execution = TaskExecution(task=task, trigger=Trigger.SCHEDULE, scheduled_time=moment, start_time=moment,
                              status=ExecutionStatus.RUNNING, attempt=3, duration=1.5, return_code=-9,
                              output_truncated=True, limits={"start": "forked"}, env_overrides=None, worker="w")
    for model, obj in ((TaskExecution, execution), (TaskStatus, TaskStatus(task=task, running=True))):
        fields = [f for f in model._meta.concrete_fields if not f.primary_key
                  and not (getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False))]
        read = columns.readers(fields)
        values = [r(obj) for r in read]
        assert values == [f.pre_save(obj, True) for f in fields]
        converted = [c(v) for c, v in zip(columns.converters(fields, connection), values)]
        expected = [f.get_db_prep_save(v, connection) for f, v in zip(fields, values)]
        plain = lambda v: (type(v), v.obj) if type(v).__name__ == "Jsonb" else v  # noqa: E731 (psycopg's has no ==)
        assert [(f.name, plain(c)) for f, c in zip(fields, converted)] == [
            (f.name, plain(e)) for f, e in zip(fields, expected)]
    # The same instant twice in a batch, and values of another type than the column's, as the ORM has them.
    convert = columns.converters([TaskExecution._meta.get_field(n) for n in ("start_time", "attempt")], connection)
    assert [convert[0](moment), convert[0](moment), convert[1]("4")] == [
        TaskExecution._meta.get_field("start_time").get_db_prep_save(moment, connection)] * 2 + [4]


def test_an_instant_in_any_zone_is_converted_as_the_orm_converts_it():
    """The converter's own path for aware datetimes (SQLite: the text the ORM would store) against
    get_db_prep_save, for instants with and without microseconds, in UTC and in other zones."""
    from zoneinfo import ZoneInfo

    from django.db import connection

    from tasks_app.engine import columns

    field = TaskExecution._meta.get_field("end_time")
    moments = [datetime(2031, 1, 1, 12, 30, 15, 123456, tzinfo=timezone.utc),
               datetime(2031, 1, 1, 12, 30, 15, tzinfo=timezone.utc),
               datetime(2031, 3, 30, 1, 59, 59, 999999, tzinfo=ZoneInfo("Europe/Paris")),
               datetime(2031, 7, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
               datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-9, minutes=-30)))]
    [convert] = columns.converters([field], connection)
    assert [convert(m) for m in moments] == [field.get_db_prep_save(m, connection) for m in moments]
