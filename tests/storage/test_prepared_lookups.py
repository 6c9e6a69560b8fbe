"""The lookups each connection compiles once (models/prepared.py): the SQL the ORM would send, the row it would
give, and select_for_update's rules kept."""
import pytest
from django.db import connection, connections, transaction
from django.db.transaction import TransactionManagementError

from tasks_app.api.lookups import task_with_status
from tasks_app.models import Task
from tasks_app.services import tasks as task_services
from tests.api.conftest import simple_task

pytestmark = pytest.mark.django_db


def prepared_sql(lookup):
    return connections["default"].__dict__["prepared_statements"][lookup].sql


def orm_sql(queryset):
    return queryset.order_by().query.get_compiler(using="default").as_sql()[0]


def test_the_task_reads_of_an_edit_send_the_orms_sql_and_give_its_rows():
    task = task_services.create_task(simple_task("t1", task_desc="first"), actor="ada", via="cli")
    with transaction.atomic():
        locked = task_services._stored(task_services._locked_task_row, task.pk)
        assert prepared_sql(task_services._locked_task_row) == orm_sql(Task.objects.select_for_update().filter(pk=-1))
    plain = task_services._stored(task_services._task_row, task.pk)
    assert prepared_sql(task_services._task_row) == orm_sql(Task.objects.filter(pk=-1))
    stored = Task.objects.get(pk=task.pk)
    for row in (locked, plain):
        assert {k: v for k, v in vars(row).items() if k != "_state"} == \
            {k: v for k, v in vars(stored).items() if k != "_state"}
        assert (row._state.adding, row._state.db) == (False, "default")
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in prepared_sql(task_services._locked_task_row)
    assert task_with_status("t1").status.task_id == task.pk
    assert prepared_sql(task_with_status) == orm_sql(Task.objects.select_related("status").filter(task_id="-"))


def test_a_task_gone_is_does_not_exist_as_before():
    task = task_services.create_task(simple_task("t1"), actor="ada", via="cli")
    Task.objects.filter(pk=task.pk).delete()
    with pytest.raises(Task.DoesNotExist):
        task_services.update_task(task, {"task_desc": "x"}, actor="ada", via="api", partial=True)


@pytest.mark.django_db(transaction=True)
def test_the_locked_read_outside_a_transaction_is_refused_where_the_database_locks_rows():
    if not connection.features.has_select_for_update:
        pytest.skip("SQLite locks the database, not rows: the ORM sends no FOR UPDATE there")
    task = task_services.create_task(simple_task("t1"), actor="ada", via="cli")
    with transaction.atomic():
        task_services._stored(task_services._locked_task_row, task.pk)  # compiled, within a transaction
    with pytest.raises(TransactionManagementError):
        task_services._stored(task_services._locked_task_row, task.pk)
