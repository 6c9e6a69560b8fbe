"""The scripts a task may run: regular files found in settings.TASKS_DIR, for the form's chooser."""
import os
from pathlib import Path

from django.conf import settings

SKIP_DIRS = {"__pycache__", ".git", "node_modules", ".venv"}
SCRIPT_LIMIT = 2000  # a chooser, not a file browser: stop listing after this many


def script_prefix() -> str:
    """Paths are shown as conf/tasks.json writes them ("tasks/test_task.py") when the tasks folder is the
    project's own; otherwise relative to the tasks folder."""
    tasks_dir = Path(settings.TASKS_DIR)
    return f"{tasks_dir.name}/" if tasks_dir.parent == Path(settings.BASE_DIR) else ""


def find_scripts() -> list[str]:
    tasks_dir = Path(settings.TASKS_DIR)
    if not tasks_dir.is_dir():
        return []
    prefix, found = script_prefix(), []
    for root, dirs, files in os.walk(tasks_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.endswith((".pyc", ".pyo")):
                continue
            path = Path(root) / name
            if path.is_file():
                found.append(prefix + path.relative_to(tasks_dir).as_posix())
            if len(found) >= SCRIPT_LIMIT:
                return found
    return found


def script_choices(current: str = "") -> list[tuple[str, str]]:
    scripts = find_scripts()
    if current and current not in scripts:
        scripts.insert(0, current)  # keep what the task has, so an edit never silently changes it
    return [(s, s) for s in scripts]
