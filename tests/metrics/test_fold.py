"""Adding ended runs to the running totals: each run exactly once, even when two processes fold at the same moment
(two web nodes scraped together), a capped first fold leaves the rest for the next, and the buckets are Prometheus's
(a duration equal to a bound falls in that bound's bucket)."""
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tasks_app.metrics.tally import fold
from tasks_app.models import ExecutionTally, Task, TaskExecution
from tasks_app.models.tally import DURATION_BUCKETS


def runs(task, n, status="success", duration=1.0, **fields):
    now = timezone.now()
    fields = {"return_code": 0, **fields}
    TaskExecution.objects.bulk_create([
        TaskExecution(task=task, status=status, start_time=now, end_time=now, duration=duration, **fields)
        for _ in range(n)])


def tallied_count(task):
    return sum(ExecutionTally.objects.filter(task=task).values_list("count", flat=True))


@pytest.mark.django_db(transaction=True)
def test_two_folds_at_the_same_moment_count_each_run_once():
    task = Task.objects.create(task_id="many", task_name="many", task_exec="x.py")
    runs(task, 1)
    fold()  # the tally row exists: both folds would add to it
    runs(task, 12_000)
    barrier = threading.Barrier(2)
    added = []

    def one_node():
        try:
            barrier.wait(5)
            added.append(fold())
        finally:
            connection.close()

    threads = [threading.Thread(target=one_node) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(added) == 12_000 and tallied_count(task) == 12_001
    assert not TaskExecution.objects.filter(tallied=False).exists()
    assert fold() == 0 and tallied_count(task) == 12_001


def test_a_capped_fold_leaves_the_rest_for_the_next_and_the_count_only_climbs(db):
    task = Task.objects.create(task_id="history", task_name="history", task_exec="x.py")
    runs(task, 7_000)
    assert fold(at_most=5_000) == 5_000 and tallied_count(task) == 5_000
    assert fold(at_most=5_000) == 2_000 and tallied_count(task) == 7_000


def test_runs_still_active_wait_and_are_counted_once_they_end(db):
    task = Task.objects.create(task_id="t", task_name="t", task_exec="x.py")
    running = TaskExecution.objects.create(task=task, status="running", start_time=timezone.now())
    TaskExecution.objects.create(task=task, status="queued")
    assert fold() == 0
    TaskExecution.objects.filter(pk=running.pk).update(status="failed", end_time=timezone.now(), duration=2.0,
                                                        return_code=1)
    assert fold() == 1
    assert ExecutionTally.objects.get(task=task, status="failed").count == 1


def test_a_duration_on_a_bound_falls_in_that_bucket_and_skipped_runs_have_no_duration(db):
    task = Task.objects.create(task_id="t", task_name="t", task_exec="x.py")
    runs(task, 1, duration=1.0)
    runs(task, 1, duration=1.0001)
    runs(task, 1, duration=10 ** 6)
    runs(task, 2, status="skipped", duration=0.0, return_code=None)
    runs(task, 1, status="stopped", duration=3.0, return_code=None)  # stopped while queued: never ran
    fold()
    success = ExecutionTally.objects.get(task=task, status="success")
    one = DURATION_BUCKETS.index(1.0)
    assert success.duration_buckets[one] == 1 and success.duration_buckets[one + 1] == 1
    assert success.duration_buckets[-1] == 1  # +Inf
    assert ExecutionTally.objects.get(task=task, status="skipped").duration_buckets == [0] * (len(DURATION_BUCKETS) + 1)
    stopped = ExecutionTally.objects.get(task=task, status="stopped")
    assert stopped.count == 1 and stopped.duration_sum == 0


def test_lateness_is_measured_from_the_slot_and_an_early_start_counts_zero(db):
    task = Task.objects.create(task_id="t", task_name="t", task_exec="x.py")
    first = timezone.now().replace(second=0, microsecond=0)
    second = first + timedelta(minutes=1)
    for slot, start in ((first, first + timedelta(seconds=0.2)), (second, second - timedelta(seconds=1))):
        TaskExecution.objects.create(task=task, status="success", trigger="schedule", scheduled_time=slot,
                                     start_time=start, end_time=start, duration=1.0, return_code=0)
    runs(task, 1, trigger="manual")  # no slot: no lateness
    fold()
    tally = ExecutionTally.objects.get(task=task, status="success")
    assert tally.lateness_sum == pytest.approx(0.2) and sum(tally.lateness_buckets) == 2
