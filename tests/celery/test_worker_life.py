"""Workers that die or stop, and a scheduler that restarts while runs go on: a worker killed with SIGKILL loses its
run, which is retried on the other worker, and leaves no process behind; SIGTERM lets runs finish within the grace,
then stops them; a new scheduler follows the runs its predecessor sent."""
import os
import time

import pytest
from django.conf import settings

from tasks_app.models import ExecutionStatus, TaskExecution, Worker
from tasks_app.services.executions import run_now

from .conftest import (
    ended, needs_postgresql, needs_redis, process_alive, queue_name, recorded_starts, started_on, wait_for,
    worker_record,
)

pytestmark = [needs_postgresql, needs_redis, pytest.mark.slow]

LOST_AFTER = 10  # WORKER_LOST_AFTER of the scheduler in these tests


def test_a_killed_workers_run_is_lost_then_retried_on_the_other_worker_and_leaves_no_process(
        workers, celery_scheduler, make_task, tmp_path, settings):
    queue = queue_name("loss")
    pid = os.getpid()
    first, second = workers(f"k1.{pid}@test", [queue]), workers(f"k2.{pid}@test", [queue])
    mark = tmp_path / "first-run"
    task = make_task("long", task_exec="once.py", task_queue=queue, task_retry=1, task_retry_interval=0,
                     task_env={"MARK_FILE": str(mark), "SLEEP": "60"})
    celery_scheduler(env={"WORKER_LOST_AFTER": str(LOST_AFTER)})
    run = run_now(task, actor="alice", via="api")
    child, grandchild = map(int, wait_for(lambda: mark.exists() and mark.read_text().split(), 20,
                                          what="the 60-second run to start"))
    victim = first if started_on(run.pk) == first.name else second
    survivor = second if victim is first else first

    victim.kill()
    killed = time.monotonic()
    lost = wait_for(lambda: ended(run.pk), LOST_AFTER + 10, interval=0.2, what="the run to be found lost")
    print(f"\nthe run was recorded lost {time.monotonic() - killed:.1f} s after SIGKILL of its worker")
    assert lost.status == ExecutionStatus.LOST and lost.node == victim.name
    assert f"worker {victim.name} stopped sending heartbeats" in lost.error_message
    assert f"WORKER_LOST_AFTER is {LOST_AFTER} s" in lost.error_message
    # Its shepherd saw the worker go and ended every process of the run.
    wait_for(lambda: not process_alive(child) and not process_alive(grandchild), 10, what="the run's processes to go")

    retry = wait_for(lambda: TaskExecution.objects.filter(task=task, attempt=2).first(), 10, what="the retry")
    retry = wait_for(lambda: ended(retry.pk), 20, what="the retry to end")
    assert retry.status == ExecutionStatus.SUCCESS and retry.trigger == "retry"
    assert retry.node == survivor.name
    settings.WORKER_LOST_AFTER = LOST_AFTER  # as the scheduler sees them
    assert worker_record(victim).state() == "lost" and worker_record(survivor).state() == "alive"


def test_sigterm_lets_a_workers_runs_finish_within_the_grace_then_stops_the_rest(
        workers, celery_scheduler, make_task, tmp_path):
    queue = queue_name("warm")
    worker = workers(f"g1.{os.getpid()}@test", [queue], env={"SCHEDULER_STOP_GRACE": "3"})
    record = tmp_path / "starts"
    short = make_task("short", task_exec="record.py", task_queue=queue,
                      task_env={"RECORD_FILE": str(record), "SLEEP": "1.5"})
    long = make_task("long", task_exec="record.py", task_queue=queue,
                     task_env={"RECORD_FILE": str(record), "SLEEP": "60"})
    celery_scheduler()
    runs = [run_now(short, actor="alice", via="api"), run_now(long, actor="alice", via="api")]
    wait_for(lambda: len(recorded_starts(record)) == 2, 20, what="both runs to start")

    began = time.monotonic()
    assert worker.stop(timeout=30) == 0
    took = time.monotonic() - began
    finished, stopped = (TaskExecution.objects.get(pk=run.pk) for run in runs)
    assert finished.status == ExecutionStatus.SUCCESS
    assert stopped.status == ExecutionStatus.STOPPED
    assert stopped.error_message == f"stopped: worker {worker.name} shutting down"
    assert stopped.stop_requested_by == worker.name
    assert 3 <= took < 3 + settings.SCHEDULER_STOP_KILL_GRACE + 5, f"the worker took {took:.1f} s to stop"
    assert worker_record(worker).state() == "stopped"


def test_a_new_scheduler_follows_the_runs_its_predecessor_sent(workers, celery_scheduler, make_task, tmp_path):
    queue = queue_name("adopt")
    workers(f"a1.{os.getpid()}@test", [queue])
    record = tmp_path / "starts"
    task = make_task("failing", task_exec="record.py", task_queue=queue, task_retry=1, task_retry_interval=0,
                     task_env={"RECORD_FILE": str(record), "SLEEP": "4", "EXIT": "3"})
    first = celery_scheduler()
    run = run_now(task, actor="alice", via="api")
    wait_for(lambda: recorded_starts(record), 20, what="the run to start")
    assert first.stop() == 0
    assert TaskExecution.objects.get(pk=run.pk).status == ExecutionStatus.RUNNING, "it goes on without a scheduler"

    second = celery_scheduler()
    assert "Following 1 run(s) left on the workers by the previous scheduler" in second.output()
    failed = wait_for(lambda: ended(run.pk), 20, what="the run to end")
    assert failed.status == ExecutionStatus.FAILED and failed.return_code == 3
    # Only a scheduler that follows the run can have queued its retry.
    retry = wait_for(lambda: TaskExecution.objects.filter(task=task, attempt=2).first(), 10, what="the retry")
    assert wait_for(lambda: ended(retry.pk), 20).status == ExecutionStatus.FAILED
    assert len(recorded_starts(record)) == 2
    assert Worker.objects.count() == 1
