"""A run forked by the fast-start fork server sees what a spawned run sees (scripts/introspect.py prints all of
it), except what the README's "Fast start" lists: the hash seed and memory layout it shares with the zygote."""
import json
import os
import signal

import pytest

from tasks_app.engine import forkserver
from tasks_app.engine.runner import run_execution
from tests.engine.conftest import wait_for

from .conftest import zygote_pids

PER_RUN = ("TASK_EXECUTION_ID", "TASK_ID", "TASK_LOG", "TASK_SCHEDULED_TIME")


def introspect(make_run, fast):
    execution = make_run("introspect.py", fast)
    result = run_execution(execution)
    assert result.status == "success", execution.read_output()
    seen = json.loads(execution.read_output().strip().splitlines()[-1])
    return result, seen


def comparable(seen):
    """What must be equal between two runs of the same script: without the run's own ids and files."""
    label = seen["cmdline"][-2]
    same = {**seen, "env": {k: v for k, v in seen["env"].items() if k not in PER_RUN},
            "fds": {fd: "output" if "/executions/" in target else target for fd, target in seen["fds"].items()},
            "cmdline": [w if w != label else label.rsplit("-", 1)[0] for w in seen["cmdline"]],
            "orig_argv": [w if w != label else label.rsplit("-", 1)[0] for w in seen["orig_argv"]]}
    for key in ("random", "hash_of_text"):
        del same[key]
    return same


def test_a_forked_run_sees_everything_a_spawned_run_sees(make_run):
    spawned_result, spawned = introspect(make_run, False)
    forked_result, forked = introspect(make_run, True)

    assert "start" not in spawned_result.limits  # fast start off: nothing to say
    assert forked_result.limits["start"] == "forked"
    assert comparable(forked) == comparable(spawned)
    # What the comparison covers, spelled out for the reader.
    assert forked["name"] == "__main__" and forked["argv"] == [forked["file"]]
    assert forked["path0"] == os.path.dirname(forked["file"]) and forked["cwd"] == spawned["cwd"]
    assert forked["sid_is_pid"] and forked["pgid_is_pid"] and forked["pdeathsig"] == signal.SIGKILL
    assert forked["parent_comm"] == "task-shepherd" and forked["comm"] == "introspect.py"
    assert set(forked["fds"]) == {"0", "1", "2"}
    assert forked["modules"] == spawned["modules"]
    assert forked["cmdline"][-3].endswith("run_shepherd.py")  # crash recovery finds a forked shepherd alike


def test_two_forked_runs_draw_different_random_numbers_but_share_the_hash_seed_until_the_zygote_restarts(make_run):
    _, first = introspect(make_run, True)
    _, second = introspect(make_run, True)
    forkserver.stop()
    _, after_restart = introspect(make_run, True)

    assert first["random"] != second["random"]
    assert first["hash_randomization"] == second["hash_randomization"] == 1
    assert first["hash_of_text"] == second["hash_of_text"]  # one zygote, one hash seed (README: Fast start)
    assert after_restart["hash_of_text"] != first["hash_of_text"]


def test_while_the_zygote_is_down_runs_are_spawned_and_say_so_then_fork_again(make_run):
    introspect(make_run, True)
    (zygote,) = zygote_pids()
    os.kill(zygote, signal.SIGKILL)
    wait_for(lambda: zygote not in zygote_pids(), 5, what="the zygote's thread to reap it")

    result, seen = introspect(make_run, True)
    assert result.limits["start"] == "spawned: the fast-start fork server is down"
    assert seen["parent_comm"] == "task-shepherd"

    forkserver._down_until = 0.0  # RETRY_AFTER has passed
    result, _ = introspect(make_run, True)
    assert result.limits["start"] == "forked"


def test_a_run_outlives_the_zygote_that_forked_its_shepherd(make_run, tmp_path):
    import threading

    ready = tmp_path / "ready"
    execution = make_run("sleeper.py", True, task_env={"SLEEP": "1", "READY_FILE": str(ready)})
    results = []
    thread = threading.Thread(target=lambda: results.append(run_execution(execution)))
    thread.start()
    wait_for(ready.exists, 15, what="the script to start")
    for zygote in zygote_pids():
        os.kill(zygote, signal.SIGKILL)
    thread.join(15)

    (result,) = results
    assert (result.status, result.return_code, result.limits["start"]) == ("success", 0, "forked")


@pytest.mark.parametrize("fast", [None, True, False])
def test_the_tasks_own_choice_wins_over_the_setting(make_run, settings, fast):
    settings.SCHEDULER_FAST_START = True
    execution = make_run("introspect.py", fast)
    assert forkserver.wanted(execution.task) is (fast is not False)


def test_a_zygote_that_does_not_answer_is_killed_and_the_run_spawned_on_pipes_of_its_own(make_run, monkeypatch):
    introspect(make_run, True)
    (zygote,) = zygote_pids()
    os.kill(zygote, signal.SIGSTOP)  # it would read the request late, after the run was spawned
    monkeypatch.setattr(forkserver, "ANSWER_WAIT", 0.5)

    result, seen = introspect(make_run, True)

    assert result.limits["start"] == "spawned: the fast-start fork server failed (the zygote did not answer)"
    assert seen["parent_comm"] == "task-shepherd"
    wait_for(lambda: zygote not in zygote_pids(), 5, what="the stopped zygote to be killed and reaped")


@pytest.mark.parametrize("fast", [False, True])
def test_a_run_ends_as_the_interpreter_would_end_the_script(make_run, tmp_path, fast):
    left_open = tmp_path / "left_open.txt"
    execution = make_run("ending.py", fast, task_env={"LEFT_OPEN": str(left_open), "EXIT_CODE": "3"})

    result = run_execution(execution)

    assert result.return_code == 3
    # The order of `python -u ending.py` (the shepherd's interpreter is unbuffered, the C library's stdio too):
    # the script's lines, then its threads, atexit and its objects' __del__, as the interpreter's end runs them.
    assert execution.read_output().splitlines()[-5:] == [
        "C stdio output", "the last line", "the non-daemon thread finished", "the atexit callback",
        "__del__ of a module-level object"]
    assert left_open.read_text() == "written, never closed\n"


@pytest.mark.parametrize("fast", [False, True])
def test_a_daemon_thread_still_running_at_the_end_never_sees_the_scripts_names_cleared(make_run, fast):
    execution = make_run("daemon_at_end.py", fast)

    result = run_execution(execution)

    assert (result.status, result.return_code) == ("success", 0)
    assert execution.read_output().splitlines() == ["the last line"]


def test_a_zygote_that_served_its_runs_serves_on_until_its_successor_has_started_then_exits(make_run, monkeypatch):
    monkeypatch.setattr(forkserver, "RESTART_EVERY", 2)
    _, first = introspect(make_run, True)
    introspect(make_run, True)
    (old,) = zygote_pids()

    result, third = introspect(make_run, True)  # its successor is started now, in the background

    assert result.limits["start"] == "forked" and third["hash_of_text"] == first["hash_of_text"]
    wait_for(lambda: len(zygote_pids()) == 2, 5, what="the successor to be started")

    def retired():
        forkserver.warm_up()  # what every claim of a fast-start run does: retire it once the successor is ready
        return len(forkserver._zygotes) == 1
    wait_for(retired, 10, what="the old zygote to be retired")
    result, after = introspect(make_run, True)

    assert result.limits["start"] == "forked" and after["hash_of_text"] != first["hash_of_text"]
    wait_for(lambda: old not in zygote_pids(), 5, what="the retired zygote to exit")


def test_a_run_goes_to_another_zygote_while_the_first_is_busy_and_runs_alone_go_to_the_first(make_run, settings):
    settings.SCHEDULER_MAX_WORKERS = 6  # two zygotes at most
    _, first = introspect(make_run, True)
    (zygote,) = forkserver._zygotes

    with zygote.lock:  # a request of another worker waiting for its answer
        result, beside = introspect(make_run, True)
    _, alone = introspect(make_run, True)

    assert result.limits["start"] == "forked" and len(zygote_pids()) == 2
    assert beside["hash_of_text"] != first["hash_of_text"] == alone["hash_of_text"]
