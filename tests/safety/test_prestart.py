"""A run held for its slot has its shepherd started at its preparation (engine/prestart.py), spawned or forked
by the fork server, and moved into the run's cgroup then; it gets its spec then too, and forks and sets up the
script's process, which waits for the slot's "go" before it runs the script. When the run never
starts (stopped, deleted, refused, the engine stopping) or the engine dies, that shepherd must go with nothing
left: no process, no cgroup."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tasks_app.engine import cgroups, preparation
from tasks_app.engine.runner import run_execution
from tests.conftest import started_as
from tests.engine.conftest import wait_for

from .conftest import processes_with, run_cgroups

HOST = Path(__file__).with_name("prestart_host.py")


def test_a_shepherd_started_ahead_sets_the_scripts_process_up_which_runs_the_script_only_at_the_slot(
        start_way, make_run, project, marker, tmp_path):
    ready = tmp_path / "script-ran"
    execution = make_run(project.script("escape.py", f"{marker}.py"),
                         task_env={"RUN_MARKER": marker, "READY_FILE": str(ready)})

    preparation.prepare_early(execution)

    shepherd = execution._preparation.link.proc.pid
    script = wait_for(lambda: held_process(shepherd, f"{marker}.py"), 5, interval=0.01,
                      what="the script's process, set up and waiting for the slot")
    assert sorted(processes_with(marker)) == sorted([shepherd, script])  # no sleeper: the script has not run
    assert not ready.exists()
    assert bool(run_cgroups()) == bool(cgroups.support())  # made, with both in it
    result = run_execution(execution)
    assert result.status == "success", result
    assert result.pid == script and ready.exists()
    assert started_as(result, start_way)
    assert result.leftover_processes == 1  # the escaped sleeper: the run's end kills it as before
    assert processes_with(marker) == [] and run_cgroups() == []


def held_process(shepherd: int, name: str):
    """The shepherd's child once it is set up as the script's process (named after the script), else None."""
    for pid in processes_with(name):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2:].split()[1]) == shepherd and comm == name[:15]:
            return pid
    return None


def test_a_run_that_never_starts_leaves_no_shepherd_no_cgroup_and_no_file(start_way, make_run, project, marker,
                                                                         tmp_path):
    ready = tmp_path / "script-ran"
    execution = make_run(project.script("escape.py", f"{marker}.py"),
                         task_env={"RUN_MARKER": marker, "READY_FILE": str(ready)})
    preparation.prepare_early(execution)
    shepherd = execution._preparation.link.proc.pid
    wait_for(lambda: held_process(shepherd, f"{marker}.py"), 5, interval=0.01, what="the script's process")

    preparation.discard(execution)  # stopped, paused, deleted or refused before its slot; the engine stopping

    assert processes_with(marker) == []  # reaped by then, not only asked to go
    assert not ready.exists()  # its process ended without running the script
    assert run_cgroups() == []
    assert not Path(execution.output_path).exists()


@pytest.mark.parametrize("pipe_held", [False, True], ids=["its control pipe closed", "its control pipe still held"])
def test_a_shepherd_started_ahead_that_died_before_the_slot_is_replaced_at_the_slot(
        start_way, make_run, project, marker, pipe_held):
    execution = make_run(project.script("escape.py", f"{marker}.py"), task_env={"RUN_MARKER": marker})
    preparation.prepare_early(execution)
    link = execution._preparation.link
    # As its held script's process holds it for a moment after the shepherd died, until its parent-death signal
    # has killed it: a write of the "go" then does not fail.
    holder = os.open(f"/proc/{link.proc.pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK) if pipe_held else None
    link.proc.kill()  # a script of the scheduler's own user may
    link.proc.wait(5)

    try:
        result = run_execution(execution)
    finally:
        if holder is not None:
            os.close(holder)

    assert result.status == "success", result
    assert started_as(result, start_way)
    assert processes_with(marker) == [] and run_cgroups() == []


@pytest.mark.slow
def test_a_shepherd_started_ahead_exits_when_its_engine_is_killed(start_way, make_run, project, marker):
    execution = make_run(project.script("escape.py", f"{marker}.py"))
    fast = "true" if start_way else "false"
    host = subprocess.Popen([sys.executable, str(HOST), execution.task.task_exec, str(execution.pk)],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "SCHEDULER_FAST_START": fast})
    try:
        shepherd = int(host.stdout.readline())
        script = wait_for(lambda: held_process(shepherd, f"{marker}.py"), 5, interval=0.01,
                          what="the script's process, set up and waiting for the slot")
        assert set(processes_with(marker)) == {host.pid, shepherd, script}  # the host names the script too

        host.send_signal(signal.SIGKILL)
        host.wait(5)

        wait_for(lambda: not processes_with(marker), 3, interval=0.05, what="the waiting shepherd to exit")
        # The script's process with it, before it ran the script (no sleeper was ever left).
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    # Its cgroup is left empty, as the preparation's own was before: the next scheduler's recovery removes it.
    assert cgroups.clean_up_run(execution.pk) == 0
    assert run_cgroups() == []


def test_a_shepherd_that_cannot_start_ahead_starts_at_the_slot(start_way, make_run, project, marker, settings,
                                                             tmp_path):
    execution = make_run(project.script("escape.py", f"{marker}.py"), task_env={"RUN_MARKER": marker})
    settings.SCHEDULER_PYTHON = str(tmp_path / "no-python-here")  # gone for a moment (an upgrade, say)
    preparation.prepare_early(execution)
    assert execution._preparation.link is None and processes_with(marker) == [] and run_cgroups() == []
    settings.SCHEDULER_PYTHON = ""

    result = run_execution(execution)

    assert result.status == "success", result
    assert processes_with(marker) == [] and run_cgroups() == []


def test_a_held_run_whose_set_up_fails_before_its_slot_fails_at_the_slot_saying_why(
        start_way, make_run, project, marker, settings, tmp_path):
    execution = make_run(project.script("escape.py", f"{marker}.py"), task_env={"RUN_MARKER": marker})
    settings.BASE_DIR = tmp_path / "gone"  # the folder runs start in (the spec's cwd), missing
    preparation.prepare_early(execution)
    link = execution._preparation.link
    link.proc.wait(5)  # the set-up failed before the slot: the shepherd reported it and exited

    result = run_execution(execution)

    assert result.status == "failed" and result.pid is None
    assert result.error_message.startswith(f"could not start: cannot enter {tmp_path / 'gone'}"), result
    assert processes_with(marker) == [] and run_cgroups() == []
