"""Fixtures for the scheduler tests, usable by other test folders too (import them from here):

- runscheduler: start the real `manage.py runscheduler` as a subprocess on the test database.
- start_engine: a SchedulerEngine driven in-process, its loop in a thread, with the real LocalExecutor.
- make_task: a Task row (and its TaskStatus) straight in the database, for scripts in ./scripts.
- wait_for / child_database_url / process_alive / previous_leader: plain helpers.

A child process cannot see a test's open transaction, so both engine fixtures use the transactional_db
(rows are committed). The child finds the test database through DATABASE_URL (SQLite: the test file,
PostgreSQL: the test_... database) and the test's own CONF_DIR / LOGS_DIR / TASKS_DIR through the
environment (tests/conftest.py sets the first two)."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tasks_app.models import ConfigVersion, Task, TaskStatus

SCRIPTS = Path(__file__).resolve().parent / "scripts"
ROOT = Path(settings.BASE_DIR)


def wait_for(predicate, timeout, interval=0.02, what="the condition"):
    """Poll `predicate` until it returns something true (returned) or `timeout` s pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def child_database_url(alias="default") -> str:
    """A DATABASE_URL that points a child process at the database this test uses."""
    from django.db import connections

    s = connections[alias].settings_dict
    if connections[alias].vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = quote(s.get("USER") or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = s.get("HOST") or "localhost"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


def previous_leader(holder: str, last_seen):
    """The lease as a scheduler that died leaves it: its last heartbeat at `last_seen`, expired (by the
    database's clock, which time-machine does not move)."""
    from datetime import UTC, datetime

    from tasks_app.models import SchedulerLease

    SchedulerLease.objects.update_or_create(name="scheduler", defaults={
        "holder": holder, "host": holder.split(":")[0], "pid": int(holder.split(":")[1]), "token": "dead",
        "acquired_at": last_seen, "renewed_at": last_seen, "expires_at": datetime(2001, 1, 1, tzinfo=UTC),
        "released_at": None})


def journal_pid(execution_id):
    """The pid the scheduler recorded for a running execution (its crash-recovery journal), or None."""
    from tasks_app.engine.journal import read_pids

    return read_pids().get(execution_id)


def process_alive(pid: int) -> bool:
    """True for a live process; a zombie (dead, not reaped yet) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:].split()[0] != b"Z"


class SchedulerProcess:
    """A running `manage.py runscheduler`; its console output goes to `log_path`."""

    def __init__(self, proc, log_path):
        self.proc = proc
        self.log_path = log_path

    @property
    def pid(self):
        return self.proc.pid

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout=30):
        wait_for(lambda: "Scheduler engine started" in self.output() or self.proc.poll() is not None,
                 timeout, interval=0.05, what="runscheduler to start")
        if self.proc.poll() is not None:
            raise AssertionError(f"runscheduler exited with {self.proc.returncode}:\n{self.output()}")
        return self

    def stop(self, timeout=30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def engine_scripts(settings, monkeypatch):
    """TASKS_DIR = tests/engine/scripts, in-process and for child processes."""
    settings.TASKS_DIR = SCRIPTS
    monkeypatch.setenv("TASKS_DIR", str(SCRIPTS))
    return SCRIPTS


@pytest.fixture
def runscheduler(transactional_db, tmp_path):
    """runscheduler(*args, env={...}, ready=True) -> SchedulerProcess; all are stopped at teardown."""
    started = []

    def start(*args, env=None, ready=True):
        child_env = {**os.environ, "DATABASE_URL": child_database_url(), "PYTHONUNBUFFERED": "1", **(env or {})}
        log_path = tmp_path / f"runscheduler-{len(started) + 1}.log"
        with open(log_path, "wb") as out:
            proc = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "runscheduler", *args], cwd=ROOT,
                                    env=child_env, stdout=out, stderr=subprocess.STDOUT)
        process = SchedulerProcess(proc, log_path)
        started.append(process)
        if ready:
            process.wait_ready()
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def make_task(db):
    """make_task("id", task_exec="ok.py", task_schedule="", **fields) -> Task, with its TaskStatus row."""

    def make(task_id, task_exec="ok.py", task_schedule="", **fields):
        task = Task.objects.create(task_id=task_id, task_name=fields.pop("task_name", task_id),
                                   task_exec=task_exec, task_schedule=task_schedule, **fields)
        TaskStatus.objects.get_or_create(task=task)
        ConfigVersion.bump()
        return task

    return make


@pytest.fixture
def start_engine(transactional_db, engine_scripts):
    """start_engine(**SchedulerEngine kwargs) -> a started engine whose loop runs in a thread."""
    from tasks_app.engine.scheduler import SchedulerEngine

    running = []

    def start(**kwargs):
        kwargs.setdefault("stop_grace", 0.2)  # a test's runs are not waited for at teardown
        engine = SchedulerEngine(**kwargs)
        engine.start()
        thread = threading.Thread(target=engine.run, name="engine-loop", daemon=True)
        thread.start()
        running.append((engine, thread))
        return engine

    yield start
    for engine, thread in running:
        engine.request_stop()
        thread.join(60)
        assert not thread.is_alive(), "the engine loop did not stop"
    connection.close()
