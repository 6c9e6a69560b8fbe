"""The engine's files are private whatever the umask: a fresh `make run`-like sequence (migrate, bootstrap, a run by
the real runscheduler) in a copy of the project, then files an older version left 0644 / 0755 put right by
`bootstrap` and by `runscheduler` at start; and fix_private_files itself on a tree of the engine's files."""
import logging
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tasks_app.private_files import fix_private_files

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("manage.py", "scheduler_site", "tasks_app", "tasks", "conf", "templates")
SETTINGS_FROM_ENV = ("DATABASE_URL", "CONF_DIR", "LOGS_DIR", "TASKS_DIR", "DJANGO_SECRET_KEY", "SCHEDULER_TASK_ENV",
                     "EMAIL_FILE_PATH")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def modes_below(folder: Path) -> dict[str, int]:
    """{path relative to `folder`: mode} of `folder` ("." ) and everything below it."""
    found = {".": mode(folder)}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            found[str(path.relative_to(folder))] = mode(path)
    return found


def leave_open(*paths: Path):
    """What an older version left: every folder 0755 and every file 0644."""
    for top in paths:
        for path in [top, *top.rglob("*")] if top.is_dir() else [top]:
            if path.exists() and not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)


class Project:
    """A copy of the project with its own database, secret key, conf/ and logs/ (nothing from the test's)."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir()
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "backups",
                                                                                   "*.lock", ".*.tmp"))
            else:
                shutil.copy2(source, root / name)
        self.env = {k: v for k, v in os.environ.items() if k not in SETTINGS_FROM_ENV}

    def manage(self, *args, timeout=120):
        # umask 022, as an administrator's shell usually has: the product must not depend on it.
        command = ["sh", "-c", 'umask 022 && exec "$@"', "sh", sys.executable, "manage.py", *args]
        result = subprocess.run(command, cwd=self.root, env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def engine_files(self) -> dict[str, int]:
        found = {}
        for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", "db.sqlite3.scheduler.lock", ".secret_key",
                     ".admin_password"):
            if (self.root / name).exists():
                found[name] = mode(self.root / name)
        for folder in ("conf", "logs"):
            found.update({f"{folder}/{rel}".removesuffix("/."): m for rel, m in modes_below(self.root / folder).items()})
        return found


def assert_private(project: Project, must_exist):
    files = project.engine_files()
    missing = [name for name in must_exist if name not in files]
    assert not missing, f"expected engine files missing: {missing}; found {sorted(files)}"
    wrong = {name: oct(m) for name, m in files.items() if m != expected_mode_of(project.root / name, name)}
    assert not wrong, wrong


def expected_mode_of(path: Path, name: str) -> int:
    if name == "logs":
        return 0o711
    if path.is_dir():
        engine = name.startswith(("conf", "logs/run", "logs/executions", "logs/mail"))
        return 0o700 if engine else 0o711
    return 0o600


FRESH = ["db.sqlite3", ".secret_key", ".admin_password", "conf", "conf/tasks.json", "conf/backups", "logs",
         "logs/sys.log", "logs/run", "logs/executions", "logs/task_test-task.log"]


@pytest.mark.slow
def test_a_fresh_install_and_one_left_open_by_an_older_version_end_with_private_files(tmp_path):
    project = Project(tmp_path / "project")
    project.manage("migrate", "--noinput", "-v0")
    # migrate puts back no mode: the process's umask alone made these private.
    assert (mode(project.root / "db.sqlite3"), mode(project.root / ".secret_key")) == (0o600, 0o600)
    project.manage("bootstrap")
    # An edit (conf/tasks.json is rewritten, the old one kept in conf/backups/) and a real run (its captured
    # output, the task's log, the run journal).
    project.manage("shell", "-c", "from tasks_app.models import Task\n"
                                  "from tasks_app.services.tasks import update_task\n"
                                  "from tasks_app.services.executions import run_now\n"
                                  "task = Task.objects.get()\n"
                                  "update_task(task, {'task_desc': 'edited'}, partial=True, actor='t', via='cli')\n"
                                  "run_now(task, actor='t', via='cli')\n")
    project.manage("runscheduler", "--max-seconds", "8", "--tick", "0.1")
    outputs = list((project.root / "logs" / "executions").rglob("*.out"))
    assert outputs, "the queued run did not happen"
    assert "任务执行完成" in (project.root / "logs" / "task_test-task.log").read_text(encoding="utf-8")
    assert_private(project, FRESH + [str(outputs[0].relative_to(project.root))])

    # An older version left everything open; bootstrap (what `make run` runs after migrate) closes it again.
    (project.root / "logs" / "reports").mkdir()
    (project.root / "logs" / "reports" / "weekly.log").write_text("a task's log in a subfolder\n")
    (project.root / "logs" / "sys.log.1").write_text("a rotation\n")
    (project.root / "logs" / "run" / "left-by-a-crash.pids").write_text("1 2\n")  # a clean stop removes its own
    opened = [project.root / name for name in ("db.sqlite3", ".secret_key", ".admin_password", "conf", "logs")]
    leave_open(*opened)
    assert mode(project.root / "conf" / "tasks.json") == 0o644
    project.manage("bootstrap")
    older = ["logs/reports", "logs/reports/weekly.log", "logs/sys.log.1"]
    assert_private(project, FRESH + older + ["logs/run/left-by-a-crash.pids"])

    # And so does the scheduler when it starts (it also reads and removes the journal a crash left).
    leave_open(*opened)
    project.manage("runscheduler", "--max-seconds", "0.5")
    assert_private(project, FRESH + older)


def test_the_fixer_leaves_symlinks_and_the_tasks_folder_alone_and_says_what_it_changed(settings, tmp_path):
    conf, logs = Path(settings.CONF_DIR), Path(settings.LOGS_DIR)
    (conf / "tasks.json").write_text("{}")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the engine's")
    (logs / "link.log").symlink_to(outside)
    (logs / "executions" / "3").mkdir(parents=True)
    (logs / "executions" / "3" / "9.out").write_text("output")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "job.py").write_text("print(1)\n")
    settings.TASKS_DIR = tasks
    leave_open(conf, logs, tasks, outside)

    changed = {path: (old, new) for path, old, new in fix_private_files()}

    assert changed[conf / "tasks.json"] == (0o644, 0o600) and changed[logs] == (0o755, 0o711)
    assert mode(logs / "executions") == mode(logs / "executions" / "3") == 0o700
    assert mode(logs / "executions" / "3" / "9.out") == 0o600 and mode(conf) == 0o700
    assert mode(outside) == 0o644 and mode(tasks) == 0o755 and mode(tasks / "job.py") == 0o644
    assert fix_private_files() == []  # nothing left to do


def test_logs_and_captured_outputs_are_created_private_whatever_the_umask(tmp_path):
    from tasks_app.engine.output import open_output
    from tasks_app.logs.setup import make_file_handler

    previous = os.umask(0o022)
    try:
        handler = make_file_handler(tmp_path / "logs" / "sys.log", max_bytes=1024, backup_count=2)
        logger = logging.Logger("private-files-test")
        logger.addHandler(handler)
        for _ in range(40):  # past max_bytes: rotated at least once
            logger.warning("x" * 60)
        handler.close()
        os.close(open_output(tmp_path / "executions" / "1" / "2.out"))
    finally:
        os.umask(previous)
    assert (tmp_path / "logs" / "sys.log.1").exists()
    for name in ("logs/sys.log", "logs/sys.log.1", "executions/1/2.out"):
        assert mode(tmp_path / name) == 0o600, name


def test_the_web_server_process_takes_the_private_umask():
    code = "import os; os.umask(0o022); import scheduler_site.wsgi; print(oct(os.umask(0)))"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "0o77", result.stderr
