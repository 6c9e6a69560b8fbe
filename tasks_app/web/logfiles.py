"""Where a task's log file is on disk: the loader's rule (the same one the engine writes by)."""
from pathlib import Path

from django.conf import settings

from tasks_app.loader import resolve_log_path


def task_log_file(task) -> Path:
    try:
        return resolve_log_path(task.task_log, task.task_id)
    except ValueError:
        # A row written before the loader refused such paths: fall back on the document's default.
        return Path(settings.LOGS_DIR) / f"task_{task.task_id}.log"
