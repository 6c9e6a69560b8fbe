"""A run held for its slot gets its shepherd's spec at its preparation (prestart.py): its script's process is
forked and set up then, and the script starts when the slot's "go" comes. Such a run must see exactly what a run
started at once sees (scripts/introspect.py prints all of it), spawned or forked, and use the task as claimed."""
import json

import pytest

from tasks_app.engine import preparation
from tasks_app.engine.runner import run_execution
from tasks_app.models import Task
from tasks_app.secrets import keys

from .test_like_a_spawn import comparable as comparable_run

PASSWORD = "held-Sup3r/s3cret"


def comparable(seen):
    """As two runs are compared in test_like_a_spawn; with a secret, stdout and stderr are the masking pipe, one
    of its own per run."""
    same = comparable_run(seen)
    same["fds"] = {fd: "pipe" if target.startswith("pipe:") else target for fd, target in same["fds"].items()}
    return same


def run(execution, held):
    if held:
        preparation.prepare_early(execution)
        assert execution._preparation.link is not None  # started ahead, its spec sent
    result = run_execution(execution)
    assert result.status == "success", execution.read_output()
    return result, json.loads(execution.read_output().strip().splitlines()[-1])


@pytest.mark.parametrize("fast", [False, True], ids=["spawn", "fork"])
def test_a_run_held_for_its_slot_sees_everything_a_run_started_at_once_sees(make_run, fast):
    env = {"GREETING": "hello", "DB_PASSWORD": keys.seal(PASSWORD)}  # and its output masked alike
    at_once_result, at_once = run(make_run("introspect.py", fast, task_env=env), held=False)
    held_execution = make_run("introspect.py", fast, task_env=env)
    held_result, held = run(held_execution, held=True)

    assert comparable(held) == comparable(at_once)
    assert held["env"]["GREETING"] == "hello" and held["name"] == "__main__"
    assert PASSWORD not in held_execution.read_output() and held["env"]["DB_PASSWORD"] != PASSWORD
    assert held_result.limits == at_once_result.limits and held_result.pid is not None


@pytest.mark.parametrize("fast", [False, True], ids=["spawn", "fork"])
def test_a_task_edited_after_its_run_was_prepared_runs_as_it_was_claimed(make_run, fast):
    execution = make_run("introspect.py", fast, task_env={"GREETING": "as claimed"})
    preparation.prepare_early(execution)
    Task.objects.filter(pk=execution.task.pk).update(task_env={"GREETING": "edited"}, task_timeout=1)

    result = run_execution(execution)

    assert result.status == "success", execution.read_output()
    seen = json.loads(execution.read_output().strip().splitlines()[-1])
    assert seen["env"]["GREETING"] == "as claimed"  # the edit applies from the task's next run
