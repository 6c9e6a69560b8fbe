"""A bulk enable reaches the real scheduler: `update()` sends no signals, so the service bumps the change marker
and the running `manage.py runscheduler` schedules every enabled task at its next tick (the 2-second bar for 1,000
tasks is measured in bench/ops.py; this bound is generous for a loaded test machine)."""
import time

import pytest
from django_apscheduler.models import DjangoJob

from tasks_app.models import Task, TaskStatus
from tasks_app.services import bulk
from tests.engine.conftest import engine_scripts, runscheduler, wait_for  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
COUNT = 300


def test_the_running_scheduler_schedules_every_task_of_a_bulk_enable_and_drops_them_on_a_bulk_disable(
        runscheduler, engine_scripts):  # noqa: F811
    tasks = Task.objects.bulk_create([Task(task_id=f"b{i:04d}", task_name=f"b{i}", task_exec="ok.py",
                                           task_schedule=f"{i % 60} {i % 24} 1 1 *", task_enabled=False)
                                      for i in range(COUNT)])
    TaskStatus.objects.bulk_create([TaskStatus(task=task) for task in tasks])
    ids = [task.task_id for task in tasks]
    runscheduler()
    assert not DjangoJob.objects.filter(id__in=ids).exists()

    started = time.monotonic()
    outcomes = bulk.bulk_action("enable", ids, actor="otto", via="api")
    assert {o.result for o in outcomes} == {"done"}
    wait_for(lambda: DjangoJob.objects.filter(id__in=ids).count() == COUNT, 20, what="every task's job")
    print(f"{COUNT} tasks scheduled {time.monotonic() - started:.2f} s after the bulk enable began")

    bulk.bulk_action("disable", ids, actor="otto", via="api")
    wait_for(lambda: not DjangoJob.objects.filter(id__in=ids).exists(), 20, what="every job to be removed")
