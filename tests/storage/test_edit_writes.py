"""What an edit runs inside its transaction (on SQLite, under the database's one write lock): the task's row read
again, its changed columns written, the change marker, the audit entry; the status row's next run only when a
field it derives from changed. Statements are those Django sends, counted while the service's transaction is
open."""
from datetime import datetime, timezone

import pytest
from django.db import connection

from tasks_app.models import Task, TaskStatus
from tasks_app.services import tasks as task_services
from tests.api.conftest import simple_task

pytestmark = pytest.mark.django_db


class InsideTransaction:
    """The SQL sent while an atomic block deeper than the test's own is open."""

    def __init__(self):
        self.statements = []
        self.depth = len(connection.atomic_blocks)  # the test's own transaction(s)

    def __call__(self, execute, sql, params, many, context):
        if len(connection.atomic_blocks) > self.depth:
            self.statements.append(" ".join(sql.split()))
        return execute(sql, params, many, context)

    def writes(self):
        return [s for s in self.statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]


def edit(task, data):
    inside = InsideTransaction()
    with connection.execute_wrapper(inside):
        task_services.update_task(task, data, actor="ada", via="api", partial=True)
    return inside


def target(statement):
    """The table an INSERT, UPDATE or SELECT is about (the first one it names); None for one without a table
    (PostgreSQL's pg_notify, the scheduler's wake-up)."""
    words = statement.replace('"', "").split()
    if words[0] == "INSERT":
        return words[words.index("INTO") + 1]
    if words[0] == "UPDATE":
        return words[1]
    return words[words.index("FROM") + 1] if "FROM" in words else None


def test_a_description_edit_writes_its_column_the_marker_and_the_audit_entry_and_reads_no_other_task():
    task = task_services.create_task(simple_task("t1"), actor="ada", via="cli")
    task_services.create_task(simple_task("t2"), actor="ada", via="cli")
    inside = edit(task, {"task_desc": "new words"})
    assert [target(s) for s in inside.writes()] == ["tasks_app_task", "tasks_app_configversion", "auditlog_logentry"]
    update = inside.writes()[0]
    assert update.split(" SET ")[1].split(" WHERE ")[0].count("=") == 2  # task_desc and updated_at, nothing else
    assert '"task_desc"' in update and '"updated_at"' in update
    # Under the lock: the row read again, its UPDATE, the marker, the version's number, the entry.
    assert [target(s) for s in inside.statements if target(s)] == [
        "tasks_app_task", "tasks_app_task", "tasks_app_configversion", "auditlog_logentry", "auditlog_logentry"]
    assert Task.objects.get(task_id="t1").task_desc == "new words"


def test_a_description_edit_leaves_the_stored_next_run_as_it_is():
    task = task_services.create_task(simple_task("t1"), actor="ada", via="cli")
    marked = datetime(2030, 1, 1, tzinfo=timezone.utc)
    TaskStatus.objects.filter(task=task).update(next_run_time=marked)
    edit(task, {"task_desc": "new words", "task_retry": 2})
    assert TaskStatus.objects.get(task=task).next_run_time == marked


@pytest.mark.parametrize("change", [{"task_schedule": "0 3 * * *"}, {"task_timezone": "Asia/Tokyo"},
                                    {"task_enabled": False}])
def test_an_edit_of_a_field_the_next_run_derives_from_writes_the_next_run(change):
    task = task_services.create_task(simple_task("t1", task_schedule="30 2 * * *"), actor="ada", via="cli")
    marked = datetime(2030, 1, 1, tzinfo=timezone.utc)
    TaskStatus.objects.filter(task=task).update(next_run_time=marked)
    inside = edit(task, change)
    assert "tasks_app_taskstatus" in [target(s) for s in inside.writes()]
    stored = Task.objects.get(task_id="t1")
    assert TaskStatus.objects.get(task=task).next_run_time == stored.next_run_time() != marked
