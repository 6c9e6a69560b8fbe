"""Fixtures for the tests of what the engine guarantees about a run: a project laid out as in production
(folders a run-as user can enter, under /tmp rather than pytest's 0700 tmp_path), scripts copied into it,
processes found by a marker in their command line or environment, and Unix users made for a test.

Every run of these tests carries a unique marker: in its script's path (the shepherd's and the script's
command lines name it) and in its task_env (every process the script starts inherits it), so "no process
of the run is left" is asked of /proc, not of pids the test guessed."""
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tasks_app.engine import cgroups, identity

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def processes_with(marker: str) -> list[int]:
    """Live processes (zombies do not count) whose command line or environment holds `marker`."""
    wanted = marker.encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            if stat[stat.rfind(b")") + 2:].split()[0] in (b"Z", b"X"):
                continue
            with open(f"/proc/{name}/cmdline", "rb") as f:
                seen = f.read()
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    seen += f.read()
            except PermissionError:
                pass
        except OSError:
            continue
        if wanted in seen:
            found.append(int(name))
    return found


def run_cgroups() -> list[str]:
    """The runs' cgroups of this project and database that exist now."""
    from tasks_app.engine.childenv import project_token

    found = cgroups.support()
    prefix = f"{cgroups.PREFIX}{project_token()}-"
    return [str(parent / name) for parent in (found.parents if found else ()) for name in os.listdir(parent)
            if name.startswith(prefix)]


class Project:
    """A project's own folders as in production: tasks/ 0755 (scripts 0644), logs/ 0711, conf/ 0700."""

    def __init__(self, root: Path, marker: str):
        self.root, self.marker = root, marker
        self.tasks, self.logs, self.conf = root / "tasks", root / "logs", root / "conf"

    def script(self, name: str, as_name: str | None = None) -> str:
        """Copy scripts/<name> into tasks/ (as <as_name>); returns the task_exec naming it."""
        target = self.tasks / (as_name or name)
        shutil.copy(SCRIPTS / name, target)
        target.chmod(0o644)
        return target.name

    def env(self) -> dict:
        """The environment variables a child process (runscheduler) needs to use these folders."""
        return {"TASKS_DIR": str(self.tasks), "LOGS_DIR": str(self.logs), "CONF_DIR": str(self.conf)}


@pytest.fixture
def marker():
    return f"run-marker-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def project(settings, monkeypatch, marker):
    """Name it before `runscheduler` in a test's arguments: it is then removed after the scheduler stopped
    (which writes its pid journal into conf/ until it stops)."""
    root = Path(tempfile.mkdtemp(prefix="scheduler-safety-", dir="/tmp"))  # not the marker: the engine has it
    root.chmod(0o755)
    made = Project(root, marker)
    for folder, mode in ((made.tasks, 0o755), (made.logs, 0o711), (made.conf, 0o700)):
        folder.mkdir()
        folder.chmod(mode)
    settings.TASKS_DIR, settings.LOGS_DIR, settings.CONF_DIR = made.tasks, made.logs, made.conf
    settings.BACKUPS_DIR = made.conf / "backups"
    settings.EXECUTION_OUTPUT_DIR = made.logs / "executions"
    for key, value in made.env().items():
        monkeypatch.setenv(key, value)
    yield made
    leftovers = processes_with(marker)
    shutil.rmtree(root, ignore_errors=True)
    assert not leftovers, f"processes of the test's runs still alive: {leftovers}"


@pytest.fixture
def cgroups_off(settings):
    """Runs use the setrlimit fallback, as on a machine without a writable cgroup."""
    settings.SCHEDULER_CGROUPS = "off"


@pytest.fixture
def needs_cgroups():
    if cgroups.support() is None:
        pytest.skip("no writable cgroup (v2 with memory and pids, or v1 memory and pids) for runs here")


@pytest.fixture
def unix_users():
    """unix_users(n) -> [name, ...]: unprivileged users made with useradd for this test, removed after."""
    made = []

    def make(count=1):
        if shutil.which("useradd") is None or shutil.which("userdel") is None:
            pytest.skip("useradd / userdel are not installed: run-as users cannot be made for the test")
        if os.geteuid() != 0:
            pytest.skip("only root can switch a run to another user (and add users for the test)")
        names = []
        for _ in range(count):
            name = f"tr{uuid.uuid4().hex[:8]}"
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True,
                           capture_output=True)
            made.append(name)
            names.append(name)
        identity.resolve.cache_clear()
        return names

    yield make
    for name in made:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        subprocess.run(["userdel", "--remove", name], capture_output=True)
    identity.resolve.cache_clear()


@pytest.fixture
def usable_python(settings):
    """usable_python(user) sets SCHEDULER_PYTHON to an interpreter `user` can start (the engine's own when
    it can: here it may live under a 0700 /root) and returns it; skips when there is none."""

    def pick(name):
        run_as = identity.resolve(name, "test")
        for candidate in ("", "/usr/bin/python3"):
            settings.SCHEDULER_PYTHON = candidate
            if candidate and not os.access(candidate, os.X_OK):
                continue
            if not identity.interpreter_problem(run_as):
                return candidate
        pytest.skip(f"no Python interpreter that user {name} can start (the engine's is not readable by it)")

    return pick


@pytest.fixture
def make_run(db, project):
    """make_run("x.py", task_timeout=3, task_env={...}) -> a saved TaskExecution of a new task, task loaded."""
    from tasks_app.models import Task, TaskExecution

    counter = iter(range(1, 1000))

    def make(task_exec, **fields):
        number = next(counter)
        task = Task.objects.create(task_id=f"safety-{number}", task_name=f"safety {number}", task_exec=task_exec,
                                   **fields)
        execution = TaskExecution.objects.create(task=task, trigger="manual", status="running")
        return TaskExecution.objects.select_related("task").get(pk=execution.pk)

    return make
