"""A stand-in for the scheduler process: runs scripts/sleeper.py through a LocalExecutor, prints the task's
pid, and waits. test_executor.py SIGKILLs it and checks that the task process dies with it."""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")

import django  # noqa: E402

django.setup()

from tasks_app.engine.executor import LocalExecutor  # noqa: E402
from tasks_app.models import Task, TaskExecution  # noqa: E402

task = Task(task_id="pdeath", task_name="pdeath", task_exec="sleeper.py", task_env={"READY_FILE": sys.argv[1]})
executor = LocalExecutor(max_workers=1)
executor.submit(TaskExecution(execution_id=1, task=task), lambda e, pid: print(pid, flush=True), lambda e, r: None)
time.sleep(600)
