"""`manage.py check` warns (tasks_app.W002) about tasks whose task_env holds a name that is now refused, and keeps
quiet, without crashing, when the tables do not exist yet or the database cannot be reached."""
import os
import subprocess
import sys

import pytest

from tasks_app.checks import tasks_with_refused_env_names
from tasks_app.models import Task

from .conftest import ROOT


def old_row(task_id, task_env):
    # Written as a release before the rule would have saved it: straight into the table, past the loader.
    Task.objects.create(task_id=task_id, task_name=task_id, task_exec="tasks/test_task.py", task_schedule="@daily")
    Task.objects.filter(task_id=task_id).update(task_env=task_env)


@pytest.mark.django_db
def test_it_lists_each_task_with_its_refused_names():
    old_row("clean", {"PARAM1": "x", "TASK_NAME": "n"})
    old_row("legacy", {"PARAM1": "x", "LD_PRELOAD": "/tmp/x.so", "PATH": "/tmp"})
    old_row("older", {"BASH_ENV": "$(id)"})

    [warning] = tasks_with_refused_env_names()

    assert warning.id == "tasks_app.W002"
    assert warning.msg.startswith("2 task(s) hold task_env names that are refused: legacy (LD_PRELOAD, PATH); "
                                  "older (BASH_ENV).")
    assert "SCHEDULER_TASK_ENV" in warning.hint and "/tmp/x.so" not in warning.msg


@pytest.mark.django_db
def test_it_says_nothing_when_every_task_is_clean():
    old_row("clean", {"PARAM1": "x"})
    assert tasks_with_refused_env_names() == []


def test_manage_py_check_shows_the_warning(transactional_db, manage_py):
    old_row("legacy", {"LD_PRELOAD": "/tmp/x.so"})
    done = manage_py("check")
    assert done.returncode == 0, done.stderr
    assert "(tasks_app.W002) 1 task(s) hold task_env names that are refused: legacy (LD_PRELOAD)" in done.stderr


@pytest.mark.parametrize("database_url", ["sqlite:///{tmp}/empty.sqlite3", "postgres://nobody@127.0.0.1:9/none"],
                         ids=["no tables yet", "no database to reach"])
def test_manage_py_check_does_not_crash_without_tables_or_database(tmp_path, database_url):
    # CI runs as root on purpose: tasks_app.W001 (scripts would run as root) is not what this test is about.
    env = dict(os.environ, DATABASE_URL=database_url.format(tmp=tmp_path),
               DJANGO_SILENCED_SYSTEM_CHECKS="tasks_app.W001")
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "System check identified no issues" in done.stdout
