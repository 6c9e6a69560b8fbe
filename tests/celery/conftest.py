"""Fixtures for SCHEDULER_EXECUTOR=celery: real Celery worker processes (`celery -A scheduler_site worker`) on the
machine's Redis (or RabbitMQ), a real `runscheduler` sending them runs, all on the PostgreSQL test database.

These tests need PostgreSQL (the celery executor refuses SQLite): on SQLite they are skipped, and `.ci/run` runs
the suite on both. Each pytest process uses queue names of its own (and a Redis database chosen by its pid), so
runs in parallel never take each other's messages. Workers start once per module where the tests allow (they
outlive each test's database flush: a worker writes its record again at its next heartbeat)."""
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tasks_app.models import ExecutionStatus, TaskExecution, Worker
from tests.engine.conftest import (  # noqa: F401 (fixtures used by the tests of this folder)
    ROOT, SCRIPTS, child_database_url, engine_scripts, make_task, process_alive, runscheduler, wait_for,
)

REDIS = ("127.0.0.1", 6379)
RABBITMQ = ("127.0.0.1", 5672)


def listening(address) -> bool:
    try:
        socket.create_connection(address, timeout=1).close()
        return True
    except OSError:
        return False


needs_postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                      reason="the celery executor needs PostgreSQL (.ci/run runs these tests on it)")
needs_redis = pytest.mark.skipif(not listening(REDIS), reason="no Redis on 127.0.0.1:6379 (.ci/run starts it)")
needs_rabbitmq = pytest.mark.skipif(not listening(RABBITMQ),
                                    reason="no RabbitMQ on 127.0.0.1:5672 (.ci/run starts it)")

REDIS_URL = f"redis://{REDIS[0]}:{REDIS[1]}/{1 + os.getpid() % 15}"
RABBITMQ_URL = f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}//"


def queue_name(label: str) -> str:
    """A queue of this pytest process alone."""
    return f"t{os.getpid()}.{label}"


class WorkerProcess:
    """A running `celery -A scheduler_site worker`; its console output goes to `log_path`."""

    def __init__(self, proc, log_path, hostname):
        self.proc = proc
        self.log_path = log_path
        self.hostname = hostname

    @property
    def name(self) -> str:
        """Its Worker record's name, which the runs it claims carry as their node."""
        return f"{self.hostname}:{self.proc.pid}"

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout=60):
        wait_for(lambda: f"{self.hostname} ready." in self.output() or self.proc.poll() is not None, timeout,
                 interval=0.1, what=f"worker {self.hostname} to start")
        if self.proc.poll() is not None:
            raise AssertionError(f"worker {self.hostname} exited with {self.proc.returncode}:\n{self.output()}")
        return self

    def stop(self, timeout=60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def start_worker(folder: Path, hostname, queues, *, broker=REDIS_URL, concurrency=4, env=None, ready=True):
    """A worker process serving `queues` on the test database; its LOGS_DIR and CONF_DIR are under `folder`
    (the worker's own machine, as it were)."""
    home = folder / hostname.split("@")[0]
    for sub in ("logs", "conf"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    child_env = {**os.environ, "DATABASE_URL": child_database_url(), "CELERY_BROKER_URL": broker,
                 "TASKS_DIR": str(SCRIPTS), "LOGS_DIR": str(home / "logs"), "CONF_DIR": str(home / "conf"),
                 "PYTHONUNBUFFERED": "1", **(env or {})}
    log_path = folder / f"{hostname.split('@')[0]}.log"
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "scheduler_site", "worker", "-Q", ",".join(queues),
             "-c", str(concurrency), "--hostname", hostname, "--without-mingle", "--without-gossip", "-l", "INFO"],
            cwd=ROOT, env=child_env, stdout=out, stderr=subprocess.STDOUT)
    worker = WorkerProcess(proc, log_path, hostname)
    return worker.wait_ready() if ready else worker


@pytest.fixture
def workers(tmp_path_factory, django_db_setup, django_db_blocker):
    """workers(hostname, queues, **start_worker kwargs) -> WorkerProcess, for one test; stopped at teardown."""
    started = []
    folder = tmp_path_factory.mktemp("workers")

    def start(hostname, queues, **kwargs):
        worker = start_worker(folder, hostname, queues, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def celery_scheduler(runscheduler, engine_scripts):
    """celery_scheduler(broker=REDIS_URL, env={...}, *args) -> a runscheduler with SCHEDULER_EXECUTOR=celery."""

    def start(*args, broker=REDIS_URL, env=None, ready=True):
        return runscheduler("--tick", "0.2", *args, ready=ready, env={
            "SCHEDULER_EXECUTOR": "celery", "CELERY_BROKER_URL": broker, "TASKS_DIR": str(SCRIPTS),
            **(env or {})})

    return start


def ended(execution_id):
    execution = TaskExecution.objects.filter(pk=execution_id).first()
    return execution if execution is not None and execution.status not in ExecutionStatus.active() else None


def started_on(execution_id):
    """The node a run was claimed by, once a worker has claimed it."""
    return TaskExecution.objects.filter(pk=execution_id).exclude(node="").values_list("node", flat=True).first()


def worker_record(worker: WorkerProcess):
    return Worker.objects.filter(name=worker.name).first()


def recorded_starts(path: Path) -> list[int]:
    """The execution ids record.py wrote, one per start."""
    if not path.exists():
        return []
    return [int(line.split()[0]) for line in path.read_text().splitlines() if line.strip()]
