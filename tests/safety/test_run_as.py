"""SCHEDULER_RUN_AS and a task's own user (SCHEDULER_RUN_AS_ALLOWED): the script runs as that user with its
groups and umask 077, cannot read the engine's files, its environment or another user's task log, and can
still write its own log; misconfigurations stop the scheduler at start with the setting named."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import checks
from django.db import connection

from tasks_app.engine import identity, subreaper
from tasks_app.definition.paths import task_log_file
from tasks_app.engine.runner import run_execution
from tasks_app.models import ExecutionStatus, TaskExecution
from tasks_app.services.executions import run_now
from tests.engine.conftest import make_task, runscheduler, wait_for  # noqa: F401  (fixtures)

from .conftest import processes_with

QUIET = {"DJANGO_SILENCED_SYSTEM_CHECKS": "tasks_app.W001"}


def engine_files(project):
    """The engine's own files a run must not read, made private as the engine keeps them (0600 root)."""
    files = [Path(django_settings.BASE_DIR) / ".secret_key", project.conf / "tasks.json"]
    (project.conf / "tasks.json").write_text('{"tasks": []}\n')
    if connection.vendor == "sqlite":
        files.append(Path(connection.settings_dict["NAME"]))
    for path in files:
        path.chmod(0o600)
    return files


def report(execution):
    return json.loads(execution.read_output().strip().splitlines()[-1])


def test_a_run_as_user_has_its_own_rights_only_and_cannot_read_another_users_task_log(
        start_way, make_run, project, marker, unix_users, usable_python, settings):
    alice, bob = unix_users(2)
    usable_python(alice)
    settings.SCHEDULER_RUN_AS = alice
    settings.SCHEDULER_RUN_AS_ALLOWED = [bob]
    # Bob's task first: its log is made his, and his script writes it.
    bobs = make_run(project.script("whoami.py", f"{marker}-bob.py"), task_env={"RUN_MARKER": marker})
    bobs.task.task_run_as = bob
    bobs.task.save(update_fields=["task_run_as"])
    assert run_execution(bobs).status == "success", bobs.read_output()
    bobs_log = task_log_file(bobs.task)
    secrets = engine_files(project)
    alices = make_run(project.script("whoami.py", f"{marker}-alice.py"),
                      task_env={"RUN_MARKER": marker, "TRY_READ": ":".join(
                          [*map(str, secrets), f"/proc/{os.getpid()}/environ", str(bobs_log), "/proc/self/environ"])})

    result = run_execution(alices)

    assert result.status == "success", alices.read_output()
    assert result.run_as == alice
    # Fast start never forks a run-as user's run: it would share the zygote's (root's) hash seed and memory layout.
    assert result.limits.get("start", "") == ("spawned: fast start is not used for a run-as user" if start_way else "")
    seen, user = report(alices), identity.resolve(alice, "test")
    assert (seen["uid"], seen["euid"], seen["gid"], seen["id_u"]) == (user.uid, user.uid, user.gid, str(user.uid))
    assert seen["groups"] == sorted(os.getgrouplist(alice, user.gid)) and 0 not in seen["groups"]
    assert seen["umask"] == 0o077
    for path in [*map(str, secrets), f"/proc/{os.getpid()}/environ", str(bobs_log)]:
        assert seen["read"][path] == "Permission denied", path
    assert seen["read"]["/proc/self/environ"] == "read"  # its own /proc, as any process
    alices_log = task_log_file(alices.task)
    assert f"written by the script as {user.uid}" in alices_log.read_text()
    for log_file, owner in ((alices_log, user.uid), (bobs_log, identity.resolve(bob, "test").uid)):
        info = log_file.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (owner, 0o600), log_file
    assert stat.S_IMODE(project.logs.stat().st_mode) == 0o711


def test_a_task_may_name_only_a_user_the_administrator_allowed(make_run, project, marker, settings):
    settings.SCHEDULER_RUN_AS_ALLOWED = ["nobody"]
    execution = make_run(project.script("whoami.py", f"{marker}.py"))
    execution.task.task_run_as = "root"

    result = run_execution(execution)

    assert result.status == "failed" and result.pid is None
    assert result.error_message == ("could not start: task_run_as='root': not one of SCHEDULER_RUN_AS_ALLOWED "
                                    "(nobody)")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_scheduler_started_with_scheduler_run_as_runs_scripts_as_that_user(
        project, marker, unix_users, usable_python, runscheduler, make_task):
    (alice,) = unix_users(1)
    python = usable_python(alice)
    secrets = engine_files(project)
    scheduler = runscheduler(env={"SCHEDULER_RUN_AS": alice, "SCHEDULER_PYTHON": python, **QUIET})
    engine_environ = f"/proc/{scheduler.pid}/environ"
    task = make_task("who", task_exec=project.script("whoami.py", f"{marker}.py"),
                     task_env={"RUN_MARKER": marker, "TRY_READ": ":".join([*map(str, secrets), engine_environ])})

    run = run_now(task, actor="alice", via="api")

    row = wait_for(lambda: TaskExecution.objects.filter(pk=run.pk).exclude(
        status__in=ExecutionStatus.active()).first(), 20, what="the run to end")
    assert row.status == ExecutionStatus.SUCCESS, (row.error_message, row.read_output())
    assert row.run_as == alice
    seen = report(row)
    assert seen["id_u"] == str(identity.resolve(alice, "test").uid)
    assert set(seen["read"].values()) == {"Permission denied"}, seen["read"]
    assert processes_with(marker) == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_unknown_run_as_user_stops_the_scheduler_at_start_naming_the_setting(project, runscheduler):
    scheduler = runscheduler(env={"SCHEDULER_RUN_AS": "no-such-user-here", **QUIET}, ready=False)

    assert scheduler.proc.wait(30) == 1
    assert ("SCHEDULER_RUN_AS='no-such-user-here': there is no user 'no-such-user-here' on this machine"
            in scheduler.output())


def test_a_scheduler_that_is_not_root_refuses_to_run_scripts_as_another_user(settings, monkeypatch):
    settings.SCHEDULER_RUN_AS = "nobody"
    monkeypatch.setattr(identity.os, "geteuid", lambda: 4321)
    monkeypatch.setattr(identity, "engine_user", lambda: "svc")

    with pytest.raises(identity.RunAsError) as refused:
        identity.check_configuration()

    assert str(refused.value) == ("SCHEDULER_RUN_AS='nobody': the scheduler runs as svc, not as root, so it cannot "
                                  "start runs as nobody")


def test_a_run_as_user_that_cannot_start_the_interpreter_stops_the_scheduler_naming_it(
        settings, unix_users, tmp_path):
    (alice,) = unix_users(1)
    hidden = tmp_path / "hidden"  # pytest's tmp_path is under a 0700 folder: alice cannot enter it
    hidden.mkdir()
    (hidden / "python").symlink_to(sys.executable)
    settings.SCHEDULER_RUN_AS, settings.SCHEDULER_PYTHON = alice, str(hidden / "python")

    with pytest.raises(identity.RunAsError) as refused:
        identity.check_configuration()

    assert str(refused.value).startswith(f"SCHEDULER_RUN_AS={alice!r}: user {alice} cannot start the task "
                                         f"interpreter {hidden / 'python'} (")


def test_check_warns_when_scripts_would_run_as_root_and_says_how_to_silence_it(settings):
    settings.SCHEDULER_RUN_AS = ""
    found = [m for m in checks.run_checks(tags=["security"]) if m.id == "tasks_app.W001"]
    if os.geteuid() != 0:
        assert found == []
        return
    (warning,) = found
    assert "SCHEDULER_RUN_AS" in warning.msg and "SILENCED_SYSTEM_CHECKS=tasks_app.W001" in warning.hint

    settings.SCHEDULER_RUN_AS = "nobody"
    assert not [m for m in checks.run_checks(tags=["security"]) if m.id == "tasks_app.W001"]
    settings.SCHEDULER_RUN_AS = ""
    settings.SILENCED_SYSTEM_CHECKS = ["tasks_app.W001"]
    assert not [m for m in checks.run_checks(tags=["security"]) if m.id == "tasks_app.W001" and not m.is_silenced()]


def test_the_scheduler_process_marks_itself_a_subreaper_and_not_dumpable():
    # In a child process: the test process itself must stay as it is.
    code = ("import os, sys; sys.path.insert(0, os.getcwd()); "
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'scheduler_site.settings'); import django; "
            "django.setup(); from tasks_app.engine import subreaper; import ctypes; libc = ctypes.CDLL(None); "
            "value = ctypes.c_int(); libc.prctl(37, ctypes.byref(value), 0, 0, 0); before = value.value; "
            "dumpable_before = libc.prctl(3, 0, 0, 0, 0); subreaper.harden_engine_process(); "
            "libc.prctl(37, ctypes.byref(value), 0, 0, 0); print(before, dumpable_before, value.value, "
            "libc.prctl(3, 0, 0, 0, 0))")
    done = subprocess.run([sys.executable, "-c", code], cwd=django_settings.BASE_DIR, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["0", "1", "1", "0"]
    assert subreaper._active is False  # this process was not touched
