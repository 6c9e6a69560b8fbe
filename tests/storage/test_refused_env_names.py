"""`import_tasks` refuses a file whose tasks hold a name of the task_env deny list: the whole file, every mistake
listed with its task and key, nothing saved; once for each name of the list, and once with all of them."""
import io
import json

import pytest
from django.core.management import CommandError, call_command

from tasks_app.definition.envnames import sample_names
from tasks_app.models import Task

pytestmark = pytest.mark.django_db

ISSUE_ATTACK = {"PYTHONWARNINGS": "all:0:antigravity.x:0:0", "BROWSER": "/bin/bash", "BASH_ENV": "$(id > /tmp/pwned)"}


def task(task_id, task_env):
    return {"task_id": task_id, "task_name": task_id, "task_exec": "tasks/test_task.py", "task_schedule": "@daily",
            "task_env": task_env}


def import_file(tmp_path, tasks):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"tasks": tasks}), encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_tasks", str(path), stdout=io.StringIO(), stderr=err)
    return str(caught.value), err.getvalue().splitlines()


def test_a_file_with_the_issues_attack_and_every_listed_name_is_refused_whole_listing_each(tmp_path):
    names = sample_names()
    summary, lines = import_file(tmp_path, [task("fine", {"PARAM1": "ok"}), task("pwn", ISSUE_ATTACK),
                                            task("all", {name: "x" for name in names})])
    # Plus one: more entries than a task_env may hold.
    assert summary.endswith(f"{len(names) + 3 + 1} problem(s); nothing was changed.")
    assert f"all: task_env: task_env has {len(names)} entries; at most 200 are allowed." in lines
    for name in ISSUE_ATTACK:
        assert any(line.startswith(f'pwn: task_env: task_env name "{name}" is refused') for line in lines), name
    for name in names:
        assert any(line.startswith(f'all: task_env: task_env name "{name}" is refused') for line in lines), name
    assert not Task.objects.exists()


@pytest.mark.parametrize("name", sample_names())
def test_each_name_of_the_deny_list_makes_the_file_refused(tmp_path, name):
    summary, lines = import_file(tmp_path, [task("fine", {"PARAM1": "ok"}), task("bad", {name: "x"})])
    assert summary.endswith("1 problem(s); nothing was changed.")
    assert lines[0].startswith(f'bad: task_env: task_env name "{name}" is refused: ')
    assert not Task.objects.exists()
