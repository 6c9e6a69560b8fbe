"""The Celery app of the comparison: one task that spawns a benchmark script the way the engine does."""
import os
import subprocess
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402

django.setup()

from celery import Celery  # noqa: E402

app = Celery("bench")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="bench.spawn")
def spawn(script, task_id):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BENCH_STAMP_DIR": os.environ["BENCH_STAMP_DIR"],
        "TASK_ID": task_id,
    }
    return subprocess.run([sys.executable, script], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode
