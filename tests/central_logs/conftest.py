"""Fixtures of the central logs' tests: a task and its runs in the database, chunks written as a worker's shipper
writes them."""
import pytest

from tasks_app.models import ExecutionLogChunk, ExecutionStatus, Task, TaskExecution, TaskStatus


@pytest.fixture
def task(db):
    task = Task.objects.create(task_id="shipped", task_name="shipped", task_exec="ok.py", task_schedule="")
    TaskStatus.objects.get_or_create(task=task)
    return task


@pytest.fixture
def run(task):
    return TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, node="w1@test:1")


def pieces_of(data: bytes, cuts) -> list[bytes]:
    """`data` cut at the given positions (the way a shipper's rounds cut a stream)."""
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def ship_log(task, run, data: bytes, cuts=()):
    ExecutionLogChunk.append_log(task.pk, run.pk, pieces_of(data, cuts), 0)
