"""bookkeeping.insert_rows: the Starter's rows written by multi-row INSERT ... RETURNING, a few statements for
thousands of rows, each instance given the primary key of its own row (the missed records after downtime)."""
from datetime import datetime, timedelta, timezone

import pytest

from tasks_app.engine import bookkeeping
from tasks_app.models import ExecutionStatus, TaskExecution, Trigger

pytestmark = pytest.mark.django_db


def test_thousands_of_rows_over_several_statements_each_get_their_own_primary_key(make_task):
    task = make_task("many")
    first = datetime(2031, 1, 1, tzinfo=timezone.utc)
    rows = [TaskExecution(task=task, trigger=Trigger.SCHEDULE, scheduled_time=first + timedelta(minutes=i),
                          status=ExecutionStatus.SKIPPED, start_time=first, end_time=first, duration=0.0,
                          error_message=f"missed {i}", worker="w") for i in range(3000)]
    bookkeeping.insert_rows(TaskExecution, rows)

    stored = dict(TaskExecution.objects.filter(task=task).values_list("pk", "error_message"))
    assert len(stored) == 3000 and len({e.pk for e in rows}) == 3000
    assert all(stored[e.pk] == e.error_message for e in rows)  # each instance holds its own row's key
    assert all(e.queued_at is not None and not e._state.adding for e in rows)  # auto_now_add filled, as the ORM
