"""The celery executor refuses what cannot work, at start and with a message that says why: SQLite (the
scheduler and the workers share one database), a missing broker, a worker that is not on the threads pool.
These need neither PostgreSQL nor a broker."""
import os
import subprocess
import sys

from .conftest import ROOT


def run(command, env, timeout=60):
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1", **env})


def test_the_scheduler_refuses_the_celery_executor_on_sqlite(tmp_path):
    done = run([sys.executable, "manage.py", "runscheduler", "--max-seconds", "5"],
               {"SCHEDULER_EXECUTOR": "celery", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    assert done.returncode != 0
    assert "SCHEDULER_EXECUTOR=celery needs PostgreSQL" in done.stderr and "sqlite" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_scheduler_refuses_the_celery_executor_without_a_broker(tmp_path):
    done = run([sys.executable, "manage.py", "runscheduler", "--max-seconds", "5"],
               {"SCHEDULER_EXECUTOR": "celery", "CELERY_BROKER_URL": "",
                "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres"})
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "needs CELERY_BROKER_URL" in done.stderr or "needs PostgreSQL" in done.stderr


def test_a_worker_refuses_sqlite(tmp_path):
    done = run([sys.executable, "-m", "celery", "-A", "scheduler_site", "worker", "-Q", "x", "--without-mingle",
                "--without-gossip"],
               {"CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    assert done.returncode != 0
    assert "error: SCHEDULER_EXECUTOR=celery needs PostgreSQL" in done.stdout + done.stderr


def test_a_worker_refuses_a_pool_other_than_threads(tmp_path):
    # (-P prefork, Celery's default on its command line, gives the configured threads pool.)
    done = run([sys.executable, "-m", "celery", "-A", "scheduler_site", "worker", "-P", "solo", "-Q", "x"],
               {"CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    assert done.returncode != 0
    assert "the worker must use the threads pool" in done.stdout + done.stderr


def test_runworker_checks_its_options():
    done = run([sys.executable, "manage.py", "runworker", "-Q", "bad queue!"], {})
    assert done.returncode != 0 and "--queues 'bad queue!'" in done.stderr and "Traceback" not in done.stderr
