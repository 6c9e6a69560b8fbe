"""A Python run without fast start: its shepherd is forked by the fork server, and its script's process execs a
new interpreter for the script (README: How a run starts), so that the script sees what `python script.py` sees:
its own hash seed, none of the fork server's or the shepherd's modules. While the fork server is down the
shepherd is spawned and runs the script in its own interpreter, as before."""
import json
import os
import subprocess

from tasks_app.engine.childenv import INTERPRETER_FLAGS, task_python
from tasks_app.engine.runner import run_execution
from tasks_app.engine.shepherd.child import FRESH_SCRIPT

from .conftest import SCRIPTS, zygote_pids


def lineage(make_run, fast):
    execution = make_run("lineage.py", fast)
    result = run_execution(execution)
    assert result.status == "success", execution.read_output()
    return result, json.loads(execution.read_output().strip().splitlines()[-1])


def test_a_run_without_fast_start_execs_a_new_interpreter_below_a_shepherd_the_fork_server_forked(make_run):
    _, forked = lineage(make_run, True)  # fast start: the zygote's hash seed
    (zygote,) = zygote_pids()
    result, first = lineage(make_run, False)
    _, second = lineage(make_run, False)
    script = first["file"]
    bare = subprocess.run([task_python(), *INTERPRETER_FLAGS, str(SCRIPTS / "lineage.py")], capture_output=True,
                          text=True, check=True, cwd="/",
                          env={"PATH": os.environ["PATH"], "HOME": os.path.expanduser("~")})

    assert "start" not in result.limits  # fast start not asked for: the record says nothing, as before
    assert first["parent_comm"] == "task-shepherd" and first["grandparent"] == zygote
    assert first["orig_argv"] == [task_python(), *INTERPRETER_FLAGS, script]
    assert first["cmdline"] == [task_python(), *INTERPRETER_FLAGS, str(FRESH_SCRIPT), script]
    assert first["argv"] == [script]
    assert first["modules"] == json.loads(bare.stdout)["modules"]  # a new interpreter's, nothing of the shepherd's
    assert not [name for name in first["modules"] if name.startswith("shepherd") or name in ("_json", "_socket")]
    assert first["hash_randomization"] == 1
    assert len({forked["hash_of_text"], first["hash_of_text"], second["hash_of_text"]}) == 3  # a seed of its own
    assert first["dumpable"] == 1  # made dumpable by its exec, as a spawned script


def test_while_the_fork_server_is_down_a_run_without_fast_start_is_spawned_as_before(make_run, spawn_only):
    spawn_only()
    result, seen = lineage(make_run, False)

    assert "start" not in result.limits
    assert seen["parent_comm"] == "task-shepherd" and seen["grandparent"] not in zygote_pids()
    assert seen["cmdline"][-3].endswith("run_shepherd.py")  # the shepherd's own fork runs the script
    assert seen["argv"] == [seen["file"]] and "shepherd.main" not in seen["modules"]
