"""Resource limits: a run stopped by its memory, CPU-time, process or file-size limit fails with the limit
named (or, where only setrlimit applies and the kernel does not say, the documented "may have been reached"
wording), with the run's cgroup and with the setrlimit fallback; the record says which applied."""
import threading
from pathlib import Path

import pytest

from scheduler_site.env import ImproperlyConfiguredEnv, env_limits
from tasks_app.engine import cgroups, limits
from tasks_app.engine.runner import run_execution
from tasks_app.models.execution import describe_limits

from .conftest import processes_with

MiB = 1024 * 1024
BOTH = pytest.mark.parametrize("mechanism", ["cgroup", "setrlimit"])


@pytest.fixture
def mechanism_of(settings):
    def use(mechanism):
        if mechanism == "setrlimit":
            settings.SCHEDULER_CGROUPS = "off"
        elif cgroups.support() is None:
            pytest.skip("no writable cgroup (v2 with memory and pids, or v1 memory and pids) for runs here")
        return cgroups.support().mechanism if mechanism == "cgroup" else "setrlimit"

    return use


def run_with_limits(make_run, project, marker, script, task_limits, **fields):
    execution = make_run(project.script(script, f"{marker}.py"), **fields)
    execution.task.task_limits = task_limits
    execution.task.save(update_fields=["task_limits"])
    return execution, run_execution(execution)


@BOTH
def test_a_run_past_its_memory_limit_fails_naming_it(start_way, make_run, project, marker, mechanism_of, mechanism):
    used = mechanism_of(mechanism)
    execution, result = run_with_limits(make_run, project, marker, "hog_memory.py", {"memory": "200M"},
                                        task_timeout=60, task_env={"RUN_MARKER": marker, "MEGABYTES": "1024"})

    assert result.status == "failed", execution.read_output()
    if used == "setrlimit":
        assert result.return_code == 1 and "MemoryError" in execution.read_output()
        assert result.error_message == ("exit code 1; the memory limit of 200 MiB (RLIMIT_AS) may have been "
                                        "reached (MemoryError)")
    else:
        assert result.return_code == -9
        assert result.error_message == "memory limit of 200 MiB reached (cgroup OOM kill)"
    assert result.limits["mechanism"] == used and result.limits["memory"] == 200 * MiB
    assert processes_with(marker) == []


@BOTH
def test_a_run_past_its_cpu_time_limit_fails_naming_it(make_run, project, marker, mechanism_of, mechanism):
    used = mechanism_of(mechanism)
    execution, result = run_with_limits(make_run, project, marker, "spin.py", {"cpu": 1}, task_timeout=60,
                                        task_env={"RUN_MARKER": marker})

    assert (result.status, result.return_code) == ("failed", -24)  # SIGXCPU
    assert result.error_message == "CPU time limit of 1 s reached (SIGXCPU)"
    assert result.limits["mechanism"] == used and result.limits["cpu"] == 1


@BOTH
def test_a_run_past_its_file_size_limit_fails_naming_it(start_way, make_run, project, marker, mechanism_of, mechanism):
    mechanism_of(mechanism)
    big = Path(f"/tmp/{marker}-big")
    try:
        execution, result = run_with_limits(make_run, project, marker, "big_file.py", {"file_size": "1M"},
                                            task_env={"RUN_MARKER": marker, "BIG_FILE": str(big)})
        assert (result.status, result.return_code) == ("failed", -25)  # SIGXFSZ
        assert result.error_message == "file size limit of 1 MiB reached (SIGXFSZ)"
        assert big.stat().st_size == 1 * MiB
    finally:
        big.unlink(missing_ok=True)


@BOTH
def test_a_fork_bomb_run_as_a_user_is_held_at_its_process_limit_and_fails_naming_it(
        make_run, project, marker, mechanism_of, mechanism, settings, unix_users, usable_python):
    used = mechanism_of(mechanism)
    (alice,) = unix_users(1)
    usable_python(alice)
    settings.SCHEDULER_RUN_AS = alice
    most, sampling = [0], threading.Event()

    def sample():  # the machine is unharmed: the run never has more processes than its limit
        while not sampling.is_set():
            most[0] = max(most[0], len(processes_with(marker)))
            sampling.wait(0.02)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        execution, result = run_with_limits(make_run, project, marker, "fork_bomb.py", {"processes": 30},
                                            task_timeout=20, task_env={"RUN_MARKER": marker})
    finally:
        sampling.set()
        watcher.join()

    output = execution.read_output()
    assert result.status == "failed", output
    assert "no limit stopped it" not in output and "BlockingIOError" in output
    if used == "setrlimit":
        assert result.error_message == ("exit code 1; the process limit of 30 (RLIMIT_NPROC) may have been "
                                        "reached (Resource temporarily unavailable)")
    else:
        assert result.error_message == "process limit of 30 reached (cgroup pids.max)"
    assert result.limits["mechanism"] == used and result.limits["processes"] == 30
    assert 25 <= result.leftover_processes <= 30
    assert most[0] <= 30 + 1  # its processes and the shepherd
    assert processes_with(marker) == []


def test_without_a_run_as_user_the_fallback_claims_no_process_limit(make_run, project, marker, settings):
    settings.SCHEDULER_CGROUPS = "off"  # RLIMIT_NPROC counts every process of the user: only for a run-as user
    execution, result = run_with_limits(make_run, project, marker, "whoami.py", {"processes": 30},
                                        task_env={"RUN_MARKER": marker})

    assert result.status == "success"
    assert result.limits == {"mechanism": "setrlimit", "memory": None, "cpu": None, "processes": None,
                             "file_size": None, "open_files": 1024}


def test_a_task_limits_value_that_cannot_be_read_fails_the_run_naming_it(make_run, project, marker):
    execution, result = run_with_limits(make_run, project, marker, "whoami.py", {"memory": "lots"})

    assert (result.status, result.pid) == ("failed", None)
    assert result.error_message == ("could not start: task_limits: memory 'lots': expected a number of bytes, "
                                    "optionally with K, M, G or T, or none")


def test_scheduler_limits_are_read_strictly_and_merged_over_the_defaults(monkeypatch):
    monkeypatch.setenv("SCHEDULER_LIMITS", "memory=512M, cpu=3600,processes=none,file_size=1g")
    assert env_limits("SCHEDULER_LIMITS", {"processes": 512, "open_files": 1024}) == {
        "memory": 512 * MiB, "cpu": 3600, "processes": None, "file_size": 1024 * MiB, "open_files": 1024}
    for raw, error in (("memory=12X", "SCHEDULER_LIMITS='memory=12X': memory '12X': expected a number of bytes, "
                                      "optionally with K, M, G or T, or none"),
                       ("disk=1G", "SCHEDULER_LIMITS='disk=1G': unknown limit 'disk' (known: memory, cpu, "
                                   "processes, file_size, open_files)"),
                       ("cpu=0", "SCHEDULER_LIMITS='cpu=0': cpu '0': must be at least 1 (none for no limit)"),
                       ("cpu", "SCHEDULER_LIMITS='cpu': 'cpu': expected name=value, e.g. memory=512M")):
        monkeypatch.setenv("SCHEDULER_LIMITS", raw)
        with pytest.raises(ImproperlyConfiguredEnv) as refused:
            env_limits("SCHEDULER_LIMITS", {})
        assert str(refused.value) == error


def test_memory_defaults_to_two_gib_only_where_a_cgroup_enforces_it(settings):
    settings.SCHEDULER_LIMITS = {"processes": 512, "open_files": 1024}
    settings.SCHEDULER_CGROUPS = "off"
    plan = limits.plan_for(None, 1, None)
    assert plan.record()["memory"] is None and not plan.fallback_rlimits
    settings.SCHEDULER_CGROUPS = "auto"
    if cgroups.support() is not None:
        plan = limits.plan_for(None, 1, None)
        assert plan.record()["memory"] == 2 * 1024 * MiB and plan.cgroup is not None
        assert not plan.fallback_rlimits  # not as RLIMIT_AS, which limits address space, not memory
    assert describe_limits({"mechanism": "cgroup-v1", "memory": 256 * MiB, "processes": 50, "cpu": None}) == (
        "memory 256 MiB, processes 50 (cgroup-v1)")
