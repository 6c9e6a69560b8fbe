"""/metrics with the real processes around it: a `manage.py runscheduler` that leads and then stops, and runs on a
real Celery worker (PostgreSQL and Redis), counted the same as the executions table, the worker seen alive."""
import time

import pytest
from django.db.models import Count

from tasks_app.models import ExecutionStatus, TaskExecution
from tasks_app.services.executions import run_now, stop_task
from tests.celery.conftest import (  # noqa: F401  (fixtures)
    celery_scheduler, needs_postgresql, needs_redis, queue_name, workers,
)
from tests.engine.conftest import engine_scripts, make_task, runscheduler, wait_for  # noqa: F401

from .conftest import samples, scrape_http

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def leaders(found) -> dict:
    return {dict(labels)["scheduler"]: value for (name, labels), value in found.items()
            if name == "scheduler_is_leader"}


def test_a_running_scheduler_leads_with_a_fresh_heartbeat_and_leads_no_more_once_stopped(runscheduler, live_server):
    scheduler = runscheduler()
    found = wait_for(lambda: (f := samples(scrape_http(live_server).body.decode())) and leaders(f) and f, 15,
                     what="the scheduler's first heartbeat")
    (name, leading), = leaders(found).items()
    assert leading == 1 and name.endswith(f":{scheduler.pid}") and found[("scheduler_leaders", ())] == 1
    beat = found[("scheduler_last_heartbeat_timestamp_seconds", (("scheduler", name),))]
    assert abs(time.time() - beat) < 15
    assert scheduler.stop() == 0
    found = samples(scrape_http(live_server).body.decode())
    assert leaders(found) == {name: 0} and found[("scheduler_leaders", ())] == 0


@needs_postgresql
@needs_redis
def test_runs_on_a_celery_worker_are_counted_as_the_executions_table_says(
        workers, celery_scheduler, make_task, live_server):
    queue = queue_name("metrics")
    worker = workers(f"wm.{queue}@test", [queue])
    ok = make_task("ok-on-worker", task_exec="ok.py", task_queue=queue)
    failing = make_task("fail-on-worker", task_exec="fail.py", task_queue=queue)
    slow = make_task("slow-on-worker", task_exec="sleep.py", task_env={"SLEEP": "60"}, task_queue=queue)
    celery_scheduler()
    for task in (ok, failing, ok):
        execution = run_now(task, actor="alice", via="api")
        wait_for(lambda: TaskExecution.objects.filter(pk=execution.pk).exclude(
            status__in=ExecutionStatus.active()).exists(), 30, what="a run on the worker")
    long_run = run_now(slow, actor="alice", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=long_run.pk, node=worker.name).exists(), 30,
             what="the long run on the worker")
    found = samples(scrape_http(live_server).body.decode())
    assert found[("scheduler_running_executions", ())] == 1 and found[("scheduler_workers_alive", ())] == 1
    stop_task(slow, actor="alice", via="api")
    wait_for(lambda: not TaskExecution.objects.filter(status__in=ExecutionStatus.active()).exists(), 30,
             what="the stop")

    found = samples(scrape_http(live_server).body.decode())
    table = {(task_id, status): n for task_id, status, n in TaskExecution.objects.order_by().values_list(
        "task__task_id", "status").annotate(n=Count("pk")).values_list("task__task_id", "status", "n")}
    counted = {(dict(labels)["task_id"], dict(labels)["status"]): value for (name, labels), value in found.items()
               if name == "scheduler_executions_total" and value}
    assert counted == table == {("ok-on-worker", "success"): 2, ("fail-on-worker", "failed"): 1,
                                ("slow-on-worker", "stopped"): 1}
    assert found[("scheduler_execution_duration_seconds_count", (("task_id", "slow-on-worker"),))] == 1
