"""The same with RabbitMQ as the broker: a burst of runs due in one minute shared by two workers, each started once
though every message is delivered twice, and a stop on a worker. The queues are this pytest process's own and
are deleted afterwards."""
import os
import time
from datetime import timedelta

import pytest
from celery import Celery
from django.utils import timezone
from kombu import Connection, Queue

from tasks_app.engine.celery_executor import TASK_NAME
from tasks_app.models import ExecutionStatus, Task, TaskExecution
from tasks_app.services.executions import run_now, stop_task

from .conftest import (
    RABBITMQ_URL, ended, needs_postgresql, needs_rabbitmq, queue_name, recorded_starts, started_on, wait_for,
)

pytestmark = [needs_postgresql, needs_rabbitmq, pytest.mark.slow]


@pytest.fixture
def rabbit_queue():
    name = queue_name("rabbit")
    yield name
    with Connection(RABBITMQ_URL) as connection:
        Queue(name, channel=connection.default_channel).delete()


def test_runs_on_two_workers_through_rabbitmq_start_once_each_and_stop_within_two_seconds(
        rabbit_queue, workers, celery_scheduler, make_task, tmp_path):
    pid = os.getpid()
    first = workers(f"r1.{pid}@test", [rabbit_queue], broker=RABBITMQ_URL, ready=False)
    second = workers(f"r2.{pid}@test", [rabbit_queue], broker=RABBITMQ_URL)
    first.wait_ready()
    record = tmp_path / "starts"
    slot = (timezone.now() - timedelta(minutes=1)).replace(second=0, microsecond=0)
    for number in range(40):
        make_task(f"rabbit-{number:02}", task_exec="record.py", task_queue=rabbit_queue, task_timezone="UTC",
                  task_schedule=f"{slot.minute} {slot.hour} * * *", task_misfire_grace=3600,
                  task_env={"RECORD_FILE": str(record)})
    Task.objects.update(updated_at=slot - timedelta(minutes=1))
    celery_scheduler(broker=RABBITMQ_URL)

    runs = TaskExecution.objects.filter(trigger="schedule", status=ExecutionStatus.SUCCESS)
    wait_for(lambda: runs.count() == 40, 90, interval=0.5, what="40 runs to succeed")
    # Every message again, as a broker's redelivery would: nothing starts twice.
    publisher = Celery(broker=RABBITMQ_URL)
    try:
        for pk in runs.values_list("pk", flat=True):
            publisher.send_task(TASK_NAME, args=[pk], queue=rabbit_queue)
        wait_for(lambda: (first.output() + second.output()).count("is success already") >= 40, 30,
                 what="the 40 copies to be refused")
    finally:
        publisher.close()
    assert sorted(recorded_starts(record)) == sorted(runs.values_list("pk", flat=True))
    assert set(runs.values_list("node", flat=True)) == {first.name, second.name}

    stubborn = make_task("stubborn", task_exec="record.py", task_queue=rabbit_queue,
                         task_env={"RECORD_FILE": str(tmp_path / "stubborn"), "SLEEP": "60", "IGNORE_TERM": "1"})
    run = run_now(stubborn, actor="alice", via="api")
    wait_for(lambda: recorded_starts(tmp_path / "stubborn"), 15, what="the stubborn run to start")
    asked = time.monotonic()
    stop_task(stubborn, actor="alice", via="api")
    done = wait_for(lambda: ended(run.pk), 2.0, interval=0.05, what="the stop within 2 s")
    print(f"\nstopped {time.monotonic() - asked:.2f} s after the request, on {started_on(run.pk)}")
    assert done.status == ExecutionStatus.STOPPED and done.error_message == "stopped: requested by alice"
