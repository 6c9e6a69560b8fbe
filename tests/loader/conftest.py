"""Fixtures for the loader and task-service tests: a private tasks folder with the document's script."""
import json
import logging
import shutil
from pathlib import Path

import pytest
from django.conf import settings

SHIPPED_SCRIPT = Path(settings.BASE_DIR) / "tasks" / "test_task.py"


@pytest.fixture
def tasks_dir(settings, tmp_path):
    folder = tmp_path / "tasks"
    folder.mkdir()
    shutil.copy(SHIPPED_SCRIPT, folder / "test_task.py")
    settings.TASKS_DIR = folder
    return folder


@pytest.fixture
def example():
    """The design document's example task, exactly as the document writes it."""
    document = json.loads((Path(settings.BASE_DIR) / "conf" / "tasks.json").read_text(encoding="utf-8"))
    return document["tasks"][0]


@pytest.fixture
def minimal():
    def make(task_id="t1", **overrides):
        data = {"task_id": task_id, "task_name": "Task " + task_id, "task_exec": "tasks/test_task.py",
                "task_schedule": "*/5 * * * *"}
        data.update(overrides)
        return data

    return make


@pytest.fixture
def component_log():
    """Lines written to one of the document's component loggers (they do not propagate to the root)."""

    class Collector(logging.Handler):
        def __init__(self):
            super().__init__(logging.DEBUG)
            self.lines = []

        def emit(self, record):
            self.lines.append(f"{record.levelname} - {record.name} - {record.getMessage()}")

        def text(self):
            return "\n".join(self.lines)

    handlers = []

    def attach(name):
        handler = Collector()
        logging.getLogger(name).addHandler(handler)
        handlers.append((name, handler))
        return handler

    yield attach
    for name, handler in handlers:
        logging.getLogger(name).removeHandler(handler)
