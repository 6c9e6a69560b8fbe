"""A scheduler and three real Celery workers on Redis, started once for the module: w1 and w2 serve the main queue,
w3 the queue "special". A burst of 200 runs, routing by task_queue, exactly once, stop and timeout on a worker."""
import os
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from celery import Celery
from django.conf import settings
from django.utils import timezone

from tasks_app.engine.celery_executor import TASK_NAME
from tasks_app.models import ExecutionStatus, Task, TaskExecution
from tasks_app.services.executions import run_now, stop_task

from .conftest import (
    REDIS_URL, ended, needs_postgresql, needs_redis, process_alive, queue_name, recorded_starts, start_worker,
    started_on, wait_for,
)

pytestmark = [needs_postgresql, needs_redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, django_db_setup, django_db_blocker):
    folder = tmp_path_factory.mktemp("cluster")
    main, special = queue_name("main"), queue_name("special")
    pid = os.getpid()
    started = [start_worker(folder, f"w1.{pid}@test", [main], ready=False),
               start_worker(folder, f"w2.{pid}@test", [main], ready=False),
               start_worker(folder, f"w3.{pid}@test", [special], concurrency=2, ready=False)]
    try:
        for worker in started:
            worker.wait_ready()
        yield SimpleNamespace(main=main, special=special, w1=started[0], w2=started[1], w3=started[2])
    finally:
        for worker in started:
            worker.stop()


def test_200_runs_due_in_one_minute_end_success_once_each_shared_by_two_workers_special_ones_on_theirs(
        cluster, celery_scheduler, make_task, tmp_path):
    record = tmp_path / "starts"
    # A slot a minute ago that the scheduler finds missed when it starts (within task_misfire_grace): every
    # task is due at once, without waiting for the next minute.
    slot = (timezone.now() - timedelta(minutes=1)).replace(second=0, microsecond=0)
    common = dict(task_exec="record.py", task_schedule=f"{slot.minute} {slot.hour} * * *", task_timezone="UTC",
                  task_misfire_grace=3600, task_env={"RECORD_FILE": str(record)})
    for number in range(200):
        make_task(f"burst-{number:03}", task_queue=cluster.main, **common)
    for number in range(10):
        make_task(f"special-{number}", task_queue=cluster.special, **common)
    Task.objects.update(updated_at=slot - timedelta(minutes=1))

    began = time.monotonic()
    celery_scheduler()
    runs = TaskExecution.objects.filter(trigger="schedule", status=ExecutionStatus.SUCCESS)
    wait_for(lambda: runs.count() == 210, 150, interval=0.5, what="210 runs to succeed")
    took = time.monotonic() - began

    assert TaskExecution.objects.filter(trigger="schedule").count() == 210
    assert set(runs.values_list("scheduled_time", flat=True)) == {slot}
    assert sorted(recorded_starts(record)) == sorted(runs.values_list("pk", flat=True)), "each started once"
    main = list(runs.filter(task__task_queue=cluster.main).values_list("node", flat=True))
    by_node = {node: main.count(node) for node in set(main)}
    print(f"\n210 runs on three workers ended in {took:.1f} s; the 200 of the shared queue: "
          f"{by_node.get(cluster.w1.name)} on w1, {by_node.get(cluster.w2.name)} on w2")
    assert set(by_node) == {cluster.w1.name, cluster.w2.name}, by_node
    assert min(by_node.values()) >= 40, f"each worker ran at least 20% of the 200: {by_node}"
    assert set(runs.filter(task__task_queue=cluster.special).values_list("node", flat=True)) == {cluster.w3.name}


def test_a_message_delivered_twice_starts_its_run_once(cluster, transactional_db, make_task, tmp_path):
    record = tmp_path / "starts"
    task = make_task("twice", task_exec="record.py", task_queue=cluster.main,
                     task_env={"RECORD_FILE": str(record), "SLEEP": "1"})
    # Runs as a scheduler leaves them once it has sent them (running, no node yet); each message goes out
    # three times at once, so both workers of the queue race for every run.
    runs = [TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, trigger="manual",
                                         worker="test", start_time=timezone.now()) for _ in range(6)]
    publisher = Celery(broker=REDIS_URL)
    try:
        for _ in range(3):
            for run in runs:
                publisher.send_task(TASK_NAME, args=[run.pk], queue=cluster.main)
        done = [wait_for(lambda: ended(run.pk), 30, what=f"run {run.pk} to end") for run in runs]
        assert [run.status for run in done] == ["success"] * 6
        publisher.send_task(TASK_NAME, args=[runs[0].pk], queue=cluster.main)  # and once more after its end

        def refused():
            return [line for line in (cluster.w1.output() + cluster.w2.output()).splitlines()
                    if " not started on " in line and int(line.split("Execution ")[1].split()[0]) in ids]

        ids = {run.pk for run in runs}
        wait_for(lambda: len(refused()) >= 13, 20, what="the 12 copies and the late one to be refused")
    finally:
        publisher.close()
    assert sorted(recorded_starts(record)) == sorted(ids), "each run started exactly once"
    assert len(refused()) == 13
    assert any("a message delivered twice" in line for line in refused())
    assert any(f"Execution {runs[0].pk} not started" in line and "is success already" in line for line in refused())


def test_a_stop_ends_a_run_on_a_worker_within_two_seconds(cluster, celery_scheduler, make_task, tmp_path):
    record = tmp_path / "starts"
    task = make_task("stubborn", task_exec="record.py", task_queue=cluster.main,
                     task_env={"RECORD_FILE": str(record), "SLEEP": "60", "IGNORE_TERM": "1"})
    celery_scheduler()
    run = run_now(task, actor="alice", via="api")
    wait_for(lambda: recorded_starts(record), 15, what="the script to start")
    node = started_on(run.pk)
    pid = int(record.read_text().split()[1])

    asked = time.monotonic()
    stop_task(task, actor="alice", via="api")
    done = wait_for(lambda: ended(run.pk), 2.0, interval=0.05, what="the stop within 2 s")
    print(f"\nstopped {time.monotonic() - asked:.2f} s after the request (a script that ignores SIGTERM)")
    assert done.status == ExecutionStatus.STOPPED and done.node == node
    assert done.error_message == "stopped: requested by alice" and done.stop_requested_by == "alice"
    assert done.return_code == -9 and not process_alive(pid)


def test_a_timeout_on_a_worker_kills_the_whole_group(cluster, celery_scheduler, make_task, tmp_path):
    pids = tmp_path / "pids"
    task = make_task("family", task_exec="family.py", task_queue=cluster.main, task_timeout=2,
                     task_env={"PIDS_FILE": str(pids), "SLEEP": "600"})
    celery_scheduler()
    run = run_now(task, actor="alice", via="api")
    child, grandchild = map(int, wait_for(lambda: pids.exists() and pids.read_text().split(), 15,
                                          what="the family to start"))
    done = wait_for(lambda: ended(run.pk), 2 + settings.SCHEDULER_KILL_GRACE + 5, what="the timeout")
    assert done.status == ExecutionStatus.TIMEOUT and "timed out after 2 s" in done.error_message
    assert done.node in (cluster.w1.name, cluster.w2.name)
    assert not process_alive(child) and not process_alive(grandchild)


def test_a_shell_task_on_a_worker_gets_its_shepherd_from_the_workers_fork_server(
        cluster, celery_scheduler, make_task, tmp_path):
    """Fast start is off: the fork server forks every shepherd that executes its command (forkserver.py), on a
    worker as in the scheduler, starting one there when the first such run comes."""
    lineage = tmp_path / "lineage"
    task = make_task("shell-lineage", task_exec="lineage.sh", task_type="shell", task_queue=cluster.main,
                     task_env={"LINEAGE_FILE": str(lineage)})
    celery_scheduler()
    run = run_now(task, actor="alice", via="api")
    done = wait_for(lambda: ended(run.pk), 20, what="the run to end")
    assert done.status == ExecutionStatus.SUCCESS, done.error_message
    assert done.node in (cluster.w1.name, cluster.w2.name)
    assert lineage.read_text().split() == ["task-shepherd", "task-zygote"]
    assert "start" not in (done.limits or {})  # it did not ask for fast start


def test_a_run_waiting_for_a_worker_can_be_stopped_and_never_starts(cluster, celery_scheduler, make_task, tmp_path):
    record = tmp_path / "starts"
    task = make_task("unserved", task_exec="record.py", task_queue=queue_name("nobody"),
                     task_env={"RECORD_FILE": str(record)})
    celery_scheduler()
    run = run_now(task, actor="alice", via="web")
    wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status="running", node="").exists(), 5,
             what="the run to be sent")
    stop_task(task, actor="alice", via="web")
    done = wait_for(lambda: ended(run.pk), 2.0, interval=0.05, what="the stop")
    assert done.status == ExecutionStatus.STOPPED and done.node == ""
    assert done.error_message == "stopped: requested by alice" and done.return_code is None


def test_a_newer_run_replaces_the_one_going_on_a_worker(cluster, celery_scheduler, make_task, tmp_path):
    record = tmp_path / "starts"
    task = make_task("replaced", task_exec="record.py", task_queue=cluster.main, task_overlap="replace",
                     task_env={"RECORD_FILE": str(record), "SLEEP": "60"})
    celery_scheduler()
    old = run_now(task, actor="alice", via="api")
    wait_for(lambda: recorded_starts(record) == [old.pk], 15, what="the first run to start")
    new = run_now(task, actor="alice", via="api")
    reason = "stopped: replaced by a newer run (task_overlap: replace)"
    # The worker records the stop ("requested by scheduler"); the scheduler, which knows why, completes the
    # record as it follows the end, a tick later.
    stopped = wait_for(lambda: TaskExecution.objects.filter(pk=old.pk, error_message=reason).first(), 5,
                       what="the first run to be replaced")
    assert stopped.status == ExecutionStatus.STOPPED and stopped.stop_requested_by == "scheduler"
    wait_for(lambda: recorded_starts(record) == [old.pk, new.pk], 15, what="the newer run to start")
    stop_task(task, actor="alice", via="api")
    assert wait_for(lambda: ended(new.pk), 5).status == ExecutionStatus.STOPPED
