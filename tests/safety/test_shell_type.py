"""The shell type keeps every rule of a Python script's run (the safety cases of this folder, with shell scripts):
nothing it starts outlives it (its end, a timeout, a stop), its limits hold and are named, it runs as the run-as
user with umask 077 and cannot read the engine's files, and its environment holds nothing of the engine's."""
import os
import threading
import time
from pathlib import Path

import pytest

from tasks_app.engine import cgroups, forkserver
from tasks_app.engine.runner import StopSignal, run_execution
from tests.conftest import started_as
from tests.engine.conftest import wait_for

from .conftest import processes_with, run_cgroups
from .test_run_as import engine_files

MiB = 1024 * 1024


def shell_run(make_run, project, marker, script, **fields):
    name = project.script(script, f"{marker}.sh")
    (project.tasks / name).chmod(0o755)
    fields.setdefault("task_env", {"RUN_MARKER": marker})
    fields["task_env"].setdefault("RUN_MARKER", marker)
    return make_run(name, task_type="shell", **fields)


def test_a_finished_shell_run_kills_the_escaped_sleeper_it_left_and_counts_it(make_run, project, marker):
    execution = shell_run(make_run, project, marker, "escape.sh")
    result = run_execution(execution)
    assert result.status == "success", execution.read_output()
    assert result.leftover_processes == 1
    assert processes_with(marker) == [] and run_cgroups() == []


def test_a_timeout_kills_a_shell_run_that_ignores_sigterm_and_what_it_left(make_run, project, marker, settings):
    settings.SCHEDULER_KILL_GRACE = 1
    execution = shell_run(make_run, project, marker, "escape.sh", task_timeout=1,
                          task_env={"SLEEP": "600", "STUBBORN": "1"})
    began = time.monotonic()
    result = run_execution(execution)
    assert (result.status, result.return_code) == ("timeout", -9)
    assert 2 - 0.2 <= time.monotonic() - began < 4
    assert processes_with(marker) == []


def test_a_stop_kills_every_process_of_a_shell_run_within_two_seconds(make_run, project, marker, tmp_path):
    ready = tmp_path / "ready"
    execution = shell_run(make_run, project, marker, "escape.sh",
                          task_env={"SLEEP": "600", "READY_FILE": str(ready)})
    stop, results = StopSignal(), []
    thread = threading.Thread(target=lambda: results.append(run_execution(execution, stop)))
    thread.start()
    wait_for(ready.exists, 15, what="the script to start")
    asked = time.monotonic()
    stop.set("by alice")
    thread.join(10)
    assert results[0].status == "stopped" and time.monotonic() - asked < 2
    assert processes_with(marker) == []


@pytest.mark.parametrize("mechanism", ["cgroup", "setrlimit"])
def test_a_shell_run_past_its_file_size_limit_fails_naming_it(make_run, project, marker, settings, mechanism):
    if mechanism == "setrlimit":
        settings.SCHEDULER_CGROUPS = "off"
    elif cgroups.support() is None:
        pytest.skip("no writable cgroup here")
    big = Path(f"/tmp/{marker}-big")
    try:
        execution = shell_run(make_run, project, marker, "big_file.sh", task_limits={"file_size": "1M"},
                              task_env={"BIG_FILE": str(big)})
        result = run_execution(execution)
        assert (result.status, result.return_code) == ("failed", -25)  # SIGXFSZ
        assert result.error_message == "file size limit of 1 MiB reached (SIGXFSZ)"
        assert big.stat().st_size == 1 * MiB
    finally:
        big.unlink(missing_ok=True)


def test_a_shell_run_past_its_memory_limit_is_ended_by_its_cgroup(make_run, project, marker):
    if cgroups.support() is None:
        pytest.skip("no writable cgroup here")
    execution = shell_run(make_run, project, marker, "hog_memory.sh", task_timeout=60,
                          task_limits={"memory": "200M"}, task_env={"MEGABYTES": "1024"})
    result = run_execution(execution)
    assert result.status == "failed", execution.read_output()
    assert "no limit stopped it" not in execution.read_output()
    assert result.error_message == "memory limit of 200 MiB reached (cgroup OOM kill)"
    assert processes_with(marker) == []


def forked_shepherds() -> int:
    """How many shepherds the fork servers running now have forked."""
    return sum(zygote.runs for zygote in forkserver._zygotes)


def test_a_shell_run_gets_a_clean_environment(start_way, make_run, project, marker, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "engine-only-secret")
    monkeypatch.setenv("DATABASE_URL", "postgres://engine:pw@db/x")
    execution = shell_run(make_run, project, marker, "whoami.sh")
    result = run_execution(execution)
    out = execution.read_output()
    assert result.status == "success", out
    # Its shepherd is forked by the fork server whether fast start is on or not (it execs the script, which
    # keeps nothing of the fork server); the record speaks only of a run that asked for fast start.
    assert forked_shepherds() == 1 and started_as(result, start_way)
    environment = out.split("--- environment\n", 1)[1]
    assert "engine-only-secret" not in environment and "DATABASE_URL" not in environment
    assert f"TASK_ID={execution.task.task_id}" in environment and "PATH=" in environment


def test_a_shell_run_as_a_user_has_that_users_rights_only(start_way, make_run, project, marker, unix_users,
                                                          usable_python, settings, monkeypatch):
    import pwd

    (alice,) = unix_users(1)
    usable_python(alice)  # the shepherd itself starts in an interpreter alice could run
    settings.SCHEDULER_RUN_AS = alice
    monkeypatch.setenv("DJANGO_SECRET_KEY", "engine-only-secret")
    secrets = engine_files(project)
    execution = shell_run(make_run, project, marker, "whoami.sh", task_env={"TRY_READ": ":".join(
        [*map(str, secrets), f"/proc/{os.getpid()}/environ", "/proc/self/environ"])})
    result = run_execution(execution)
    out = execution.read_output()
    assert result.status == "success", out
    # A run-as user's shell run too gets its shepherd from the fork server: its exec keeps nothing of it.
    assert forked_shepherds() == 1 and started_as(result, start_way)
    user = pwd.getpwnam(alice)
    assert f"uid={user.pw_uid} gid={user.pw_gid} umask=0077" in out
    for path in [*map(str, secrets), f"/proc/{os.getpid()}/environ"]:
        assert f"refused {path}" in out
    assert "read /proc/self/environ" in out  # dumpable again once exec'd: its own /proc, as any process's
    environment = out.split("--- environment\n", 1)[1]
    assert "engine-only-secret" not in environment and f"TASK_ID={execution.task.task_id}" in environment
    assert result.run_as == alice
    assert processes_with(marker) == []
