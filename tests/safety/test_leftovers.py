"""Nothing a run starts outlives it, however the run ends: the script's normal end (with a sleeper that
called setsid() and forked twice), a timeout, a stop, the scheduler's SIGTERM, a kill -9 of the scheduler,
and a script that kills its own shepherd."""
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tasks_app.engine.runner import StopSignal, run_execution
from tasks_app.engine.shepherd.procs import children_of, is_zombie
from tasks_app.models import ExecutionStatus, TaskExecution
from tasks_app.services.executions import run_now
from tests.conftest import started_as
from tests.engine.conftest import make_task, runscheduler, wait_for  # noqa: F401  (fixtures)

from .conftest import processes_with, run_cgroups

QUIET = {"DJANGO_SILENCED_SYSTEM_CHECKS": "tasks_app.W001"}  # CI runs as root on purpose


def test_a_finished_run_kills_the_escaped_sleeper_it_left_and_counts_it(start_way, make_run, project, marker):
    execution = make_run(project.script("escape.py", f"{marker}.py"), task_env={"RUN_MARKER": marker})

    result = run_execution(execution)

    assert result.status == "success", result
    assert started_as(result, start_way)
    assert result.leftover_processes == 1
    assert processes_with(marker) == []
    assert run_cgroups() == []  # the run's own cgroup, if it had one, is gone with it


def test_a_timeout_kills_every_process_of_the_run_even_an_escaped_one_that_ignores_sigterm(
        start_way, make_run, project, marker, settings):
    settings.SCHEDULER_KILL_GRACE = 1
    execution = make_run(project.script("escape.py", f"{marker}.py"), task_timeout=1,
                         task_env={"RUN_MARKER": marker, "SLEEP": "600", "STUBBORN": "1"})
    began = time.monotonic()

    result = run_execution(execution)

    assert (result.status, result.return_code) == ("timeout", -9)  # SIGTERM was ignored: SIGKILL after 1 s
    assert 2 - 0.2 <= time.monotonic() - began < 4
    assert result.leftover_processes == 1
    assert processes_with(marker) == []


def test_a_stop_kills_every_process_of_the_run_within_two_seconds(start_way, make_run, project, marker, tmp_path):
    ready = tmp_path / "ready"
    execution = make_run(project.script("escape.py", f"{marker}.py"),
                         task_env={"RUN_MARKER": marker, "SLEEP": "600", "READY_FILE": str(ready)})
    stop, results = StopSignal(), []
    thread = threading.Thread(target=lambda: results.append(run_execution(execution, stop)))
    thread.start()
    wait_for(ready.exists, 15, what="the script to start")
    assert len(processes_with(marker)) >= 3  # the shepherd, the script and the sleeper

    asked = time.monotonic()
    stop.set("by alice")
    thread.join(10)

    assert time.monotonic() - asked < 2
    (result,) = results
    assert (result.status, result.error_message, result.return_code) == ("stopped", "stopped: by alice", -15)
    assert started_as(result, start_way)
    assert processes_with(marker) == []
    stop.close()


def test_without_its_shepherd_the_runs_cgroup_still_ends_every_process(start_way, make_run, project, marker,
                                                                        needs_cgroups):
    # This test process is not a subreaper: the escaped sleeper goes to init, and only the cgroup finds it.
    execution = make_run(project.script("kill_shepherd.py", f"{marker}.py"), task_env={"RUN_MARKER": marker})

    result = run_execution(execution)

    assert result.status == "failed"
    assert result.error_message == ("its shepherd ended before the run (killed by SIGKILL); "
                                    "its processes were killed")
    assert result.leftover_processes >= 1  # the sleeper (the script may already have died with its shepherd)
    assert processes_with(marker) == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_scheduler_records_what_a_run_left_behind_its_user_and_its_limits(
        project, marker, runscheduler, make_task):
    task = make_task("left", task_exec=project.script("escape.py", f"{marker}.py"), task_env={"RUN_MARKER": marker})
    runscheduler(env=QUIET)

    run = run_now(task, actor="alice", via="api")

    row = wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status=ExecutionStatus.SUCCESS).first(), 20,
                   what="the run to succeed")
    assert row.leftover_processes == 1
    assert row.run_as == "root" if os.geteuid() == 0 else row.run_as
    assert row.limits["mechanism"] in ("cgroup-v1", "cgroup-v2", "setrlimit")
    assert row.limits["processes"] == 512 and row.limits["open_files"] == 1024
    assert processes_with(marker) == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigterm_of_the_scheduler_leaves_no_process_of_its_runs(project, marker, runscheduler, make_task, tmp_path):
    ready = tmp_path / "ready"
    task = make_task("long", task_exec=project.script("escape.py", f"{marker}.py"),
                     task_env={"RUN_MARKER": marker, "SLEEP": "600", "READY_FILE": str(ready)})
    scheduler = runscheduler(env={"SCHEDULER_STOP_GRACE": "1", **QUIET})
    run = run_now(task, actor="alice", via="api")
    wait_for(ready.exists, 20, what="the script to start")
    running = processes_with(marker)
    assert len(running) >= 3
    for pid in running:  # no process of the run is told the scheduler's pid
        assert str(scheduler.pid).encode() not in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    shepherd = next(pid for pid in running if Path(f"/proc/{pid}/comm").read_text() == "task-shepherd\n")
    shepherd_env = dict(line.split("=", 1) for line in Path(f"/proc/{shepherd}/environ").read_text().split("\0")
                        if line)
    assert shepherd_env == {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

    scheduler.proc.send_signal(signal.SIGTERM)

    assert scheduler.proc.wait(20) == 0, scheduler.output()
    assert processes_with(marker) == []
    row = TaskExecution.objects.get(pk=run.pk)
    assert row.status == ExecutionStatus.STOPPED and row.leftover_processes == 1


FAST_START = pytest.mark.parametrize("fast", ["false", "true"], ids=["spawn", "fork"])  # SCHEDULER_FAST_START


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@FAST_START
def test_kill_9_of_the_scheduler_leaves_no_process_of_its_runs_three_seconds_later(
        project, marker, runscheduler, make_task, tmp_path, fast):
    ready = tmp_path / "ready"
    task = make_task("long", task_exec=project.script("escape.py", f"{marker}.py"),
                     task_env={"RUN_MARKER": marker, "SLEEP": "600", "STUBBORN": "1", "READY_FILE": str(ready)})
    scheduler = runscheduler(env={**QUIET, "SCHEDULER_FAST_START": fast})
    run_now(task, actor="alice", via="api")
    wait_for(ready.exists, 20, what="the script to start")
    assert len(processes_with(marker)) >= 3
    zygotes = [pid for pid in children_of(scheduler.pid) if Path(f"/proc/{pid}/comm").read_text() == "task-zygote\n"]
    assert len(zygotes) == (1 if fast == "true" else 0)

    os.kill(scheduler.pid, signal.SIGKILL)
    scheduler.proc.wait(5)
    killed = time.monotonic()

    wait_for(lambda: not processes_with(marker), 3, interval=0.05, what="every process of the run to die")
    assert time.monotonic() - killed < 3
    assert all(is_zombie(pid) for pid in zygotes)  # its parent-death signal (gone, or a zombie of init's)
    wait_for(lambda: not run_cgroups(), 3, what="the shepherd to remove the run's cgroup")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@FAST_START
def test_a_script_that_kills_its_own_shepherd_is_ended_by_the_scheduler_all_the_same(
        project, marker, runscheduler, make_task, fast):
    # No cgroup: only the scheduler, a child subreaper, receives the orphans and can find them.
    task = make_task("rogue", task_exec=project.script("kill_shepherd.py", f"{marker}.py"),
                     task_env={"RUN_MARKER": marker})
    runscheduler(env={"SCHEDULER_CGROUPS": "off", "SCHEDULER_FAST_START": fast, **QUIET})

    run = run_now(task, actor="alice", via="api")

    row = wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status=ExecutionStatus.FAILED).first(), 20,
                   what="the run to fail")
    assert row.error_message == "its shepherd ended before the run (killed by SIGKILL); its processes were killed"
    assert row.leftover_processes >= 1
    wait_for(lambda: not processes_with(marker), 3, what="every process of the run to die")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_after_kill_9_a_restarted_scheduler_ends_what_a_stopped_shepherd_could_not(
        project, marker, runscheduler, make_task, tmp_path):
    # The backstop: the shepherd is stopped (SIGSTOP) when the scheduler dies, so nothing reacts until the
    # next scheduler's crash recovery. Without a cgroup, only the shepherd's command line leads to the run.
    ready = tmp_path / "ready"
    task = make_task("long", task_exec=project.script("escape.py", f"{marker}.py"),
                     task_env={"RUN_MARKER": marker, "SLEEP": "600", "STUBBORN": "1", "READY_FILE": str(ready)})
    first = runscheduler(env={"SCHEDULER_CGROUPS": "off", **QUIET})
    run = run_now(task, actor="alice", via="api")
    wait_for(ready.exists, 20, what="the script to start")
    (shepherd,) = [pid for pid in processes_with(marker) if Path(f"/proc/{pid}/comm").read_text() == "task-shepherd\n"]
    os.kill(shepherd, signal.SIGSTOP)
    os.kill(first.pid, signal.SIGKILL)
    first.proc.wait(5)
    time.sleep(0.5)
    assert len(processes_with(marker)) >= 3  # the stopped shepherd, the script and the sleeper

    runscheduler(env={"SCHEDULER_CGROUPS": "off", **QUIET})

    wait_for(lambda: TaskExecution.objects.get(pk=run.pk).status == ExecutionStatus.LOST, 20,
             what="the run to be recorded lost")
    wait_for(lambda: not processes_with(marker), 5, what="every process of the run to die")
