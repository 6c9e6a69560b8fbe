"""Fixtures for the fast-start tests: the scripts of ./scripts, runs of tasks that name their start way, and a
fork server retired after each test."""
from pathlib import Path

import pytest

from tasks_app.engine import forkserver
from tasks_app.models import Task, TaskExecution

SCRIPTS = Path(__file__).resolve().parent / "scripts"


@pytest.fixture
def make_run(db, settings):
    """make_run("introspect.py", fast=True, **task fields) -> a saved TaskExecution, task loaded."""
    settings.TASKS_DIR = SCRIPTS
    counter = iter(range(1, 1000))

    def make(task_exec, fast, **fields):
        number = next(counter)
        task = Task.objects.create(task_id=f"fast-{number}", task_name="fast start", task_exec=task_exec,
                                   task_fast_start=fast, **fields)
        execution = TaskExecution.objects.create(task=task, trigger="manual", status="running")
        return TaskExecution.objects.select_related("task").get(pk=execution.pk)

    yield make
    forkserver.stop()


def zygote_pids() -> list[int]:
    """This process's fork servers (its children named task-zygote)."""
    from tasks_app.engine.shepherd.procs import children_of

    found = []
    for pid in children_of(__import__("os").getpid()):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "task-zygote":
                found.append(pid)
        except OSError:
            continue
    return found
