"""Fixtures for the TaskExecutor tests: task scripts from ./scripts and Task / TaskExecution rows."""
from pathlib import Path

import pytest

from tasks_app.models import Task, TaskExecution

SCRIPTS = Path(__file__).resolve().parent / "scripts"


@pytest.fixture
def scripts_dir(settings, monkeypatch):
    settings.TASKS_DIR = SCRIPTS
    monkeypatch.setenv("TASKS_DIR", str(SCRIPTS))
    return SCRIPTS


@pytest.fixture
def make_execution(db, scripts_dir):
    """make_execution("sleeper.py", task_timeout=3, task_env={...}) -> a saved TaskExecution, task loaded."""
    counter = iter(range(1, 10_000))

    def make(task_exec, task_id=None, trigger="manual", **fields):
        task_id = task_id or f"t{next(counter)}-{Path(task_exec).stem.replace('_', '-')}"
        task, _ = Task.objects.update_or_create(
            task_id=task_id, defaults={"task_name": fields.pop("task_name", task_id), "task_exec": task_exec,
                                       **fields},
        )
        execution = TaskExecution.objects.create(task=task, trigger=trigger, status="running")
        return TaskExecution.objects.select_related("task").get(pk=execution.pk)

    return make
