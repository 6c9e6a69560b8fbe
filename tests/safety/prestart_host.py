"""A stand-in for the scheduler process: prepares a run held for its slot (its shepherd started ahead with its
spec, the script's process set up and waiting for the slot), prints the shepherd's pid, and waits.
test_prestart.py SIGKILLs it and checks that the shepherd and the script's process exit with it. Arguments: the
script (task_exec) and the execution id."""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")

import django  # noqa: E402

django.setup()

from tasks_app.engine import preparation  # noqa: E402
from tasks_app.models import Task, TaskExecution  # noqa: E402

task = Task(task_id="prestart", task_name="prestart", task_exec=sys.argv[1])
execution = TaskExecution(execution_id=int(sys.argv[2]), task=task)
preparation.prepare_early(execution)
print(execution._preparation.link.proc.pid, flush=True)
time.sleep(600)
