"""Backfill runs yield to on-time runs on Celery workers too: the runs of backfills sent to a queue are at most the
threads of the live workers serving it less one, the rest wait in the scheduler, so a run that is due now finds a
free thread in the middle of a backfill of long runs."""
import os
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks_app.models import ExecutionStatus, TaskExecution
from tasks_app.services.backfills import cancel_backfill, start_backfill
from tasks_app.services.executions import run_now

from .conftest import ended, needs_postgresql, needs_redis, queue_name, recorded_starts, wait_for

pytestmark = [needs_postgresql, needs_redis, pytest.mark.slow]


@pytest.fixture
def backfill_on_two_threads(workers, make_task, tmp_path):
    """backfill_on_two_threads(name) -> (record file, a task to run now, a 5-wide backfill of 60-second runs): one
    worker with two threads serves the queue, so the cap lets one backfill run go at a time."""

    def make(name):
        queue = queue_name(name)
        workers(f"{name}.{os.getpid()}@test", [queue], concurrency=2)
        record = tmp_path / "starts"
        history = make_task("history", task_exec="record.py", task_schedule="0 3 * * *", task_timezone="UTC",
                            task_queue=queue, task_env={"RECORD_FILE": str(record), "SLEEP": "60"})
        now_task = make_task("now", task_exec="record.py", task_queue=queue,
                             task_env={"RECORD_FILE": str(record)})
        end = timezone.now()
        backfill = start_backfill(history, start=end - timedelta(days=5), end=end, concurrency=5, actor="alice",
                                  via="cli")
        return record, now_task, backfill

    return make


def test_a_run_due_in_the_middle_of_a_backfill_finds_a_free_thread_and_the_backfill_holds_the_rest(
        backfill_on_two_threads, celery_scheduler):
    record, now_task, backfill = backfill_on_two_threads("backfill")
    celery_scheduler()
    backfill_runs = TaskExecution.objects.filter(backfill=backfill)
    # The backfill's concurrency (5) lets five runs go; the queue's one worker has two threads: one of them is
    # the backfill's, the other stays free, and the runs beyond wait unsent (RUNNING, no node).
    wait_for(lambda: len(recorded_starts(record)) == 1, 20, what="the backfill's first run to start")
    wait_for(lambda: backfill_runs.filter(status=ExecutionStatus.RUNNING).count() == 5, 10,
             what="the backfill to let five runs go")

    run = run_now(now_task, actor="alice", via="api")
    done = wait_for(lambda: ended(run.pk), 15, what="the manual run to end while the backfill's runs go on")
    assert done.status == ExecutionStatus.SUCCESS
    assert backfill_runs.exclude(node="").count() == 1, list(backfill_runs.values_list("pk", "status", "node"))
    assert len([pk for pk in recorded_starts(record) if pk != run.pk]) == 1

    cancel_backfill(backfill, actor="alice", via="cli")
    # Held runs were never sent: the cancel ends them here, and no worker ever starts one.
    wait_for(lambda: not backfill_runs.filter(status__in=ExecutionStatus.active()).exists(), 15,
             what="the cancel to end every backfill run")
    assert len(recorded_starts(record)) == 2


def test_a_successor_keeps_the_cap_for_the_backfill_runs_a_stopped_scheduler_held(
        backfill_on_two_threads, celery_scheduler):
    """The runs a stopping scheduler held were never sent; its successor adopts them as sent and, once no worker
    has started them within SCHEDULER_RESEND_AFTER, holds them again under the cap instead of sending them all."""
    record, now_task, backfill = backfill_on_two_threads("adopted")
    first = celery_scheduler(env={"SCHEDULER_RESEND_AFTER": "1"})
    backfill_runs = TaskExecution.objects.filter(backfill=backfill)
    wait_for(lambda: len(recorded_starts(record)) == 1, 20, what="the backfill's first run to start")
    wait_for(lambda: backfill_runs.filter(status=ExecutionStatus.RUNNING).count() == 5, 10,
             what="the backfill to let five runs go")
    assert first.stop() == 0
    assert "run(s) were not sent to the broker before the scheduler stopped" in first.output()

    successor = celery_scheduler(env={"SCHEDULER_RESEND_AFTER": "1"})
    # Adopted as sent, the four never-sent runs are due for a resend after 1 s: held again instead, so that
    # the worker's second thread stays free for an on-time run.
    wait_for(lambda: "sent again when its queue" in successor.output() or "sending it again" in successor.output(),
             15, what="the successor to act on the adopted runs no worker started")
    run = run_now(now_task, actor="alice", via="api")
    done = wait_for(lambda: ended(run.pk), 15, what="the manual run to end while the backfill's runs go on")
    assert done.status == ExecutionStatus.SUCCESS
    assert backfill_runs.exclude(node="").count() == 1, list(backfill_runs.values_list("pk", "status", "node"))
    assert [pk for pk in recorded_starts(record) if pk != run.pk] == list(backfill_runs.exclude(node="")
                                                                         .values_list("pk", flat=True))
