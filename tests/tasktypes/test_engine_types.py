"""Task types end to end through the real scheduler process (`manage.py runscheduler`): a shell task and an http
task run from "run now" to their recorded end; the example plugin of examples/tasktype_plugin is installed, named
in TASK_TYPES, and its two types (one building a command, one performing its run) run too."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tasks_app.models import ExecutionStatus, TaskExecution
from tasks_app.secrets import keys
from tasks_app.services.executions import run_now
from tasks_app.services.tasks import create_task
from tests.engine.conftest import runscheduler, wait_for  # noqa: F401  (fixture)

from .conftest import SCRIPTS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tasktype_plugin"
pytestmark = pytest.mark.django_db(transaction=True)


def ended(execution, timeout=60):
    def done():
        fresh = TaskExecution.objects.get(pk=execution.pk)
        return fresh if fresh.status not in ExecutionStatus.active() else None
    return wait_for(done, timeout, interval=0.1, what=f"execution {execution.pk} to end")


def task(task_id, **fields):
    return create_task({"task_id": task_id, "task_name": task_id, "task_schedule": "0 3 * * *", **fields},
                       actor="t", via="cli")


def test_a_shell_task_and_an_http_task_run_through_the_scheduler(runscheduler, scripts_dir, stand_in,  # noqa: F811
                                                                  monkeypatch):
    shell = task("sh", task_type="shell", task_exec="hello.sh", task_env={"DB_PASSWORD": {"secret": "pw-123456"}})
    web = task("web", task_type="http", task_options={"url": stand_in.url + "/hook", "method": "POST",
                                                      "body": "${DAY}"},
               task_env={"DAY": "monday"})
    runscheduler(env={"TASKS_DIR": str(SCRIPTS), "NOTIFY_ALLOW_PRIVATE_HOSTS": "127.0.0.1"})

    shell_run, web_run = run_now(shell, actor="alice", via="api"), run_now(web, actor="alice", via="api")

    shell_run, web_run = ended(shell_run), ended(web_run)
    assert (shell_run.status, shell_run.return_code) == ("success", 0), shell_run.error_message
    assert "hello from sh" in shell_run.read_output() and "secret: ***" in shell_run.read_output()
    assert shell_run.limits  # confined like a Python script: the record says how
    assert (web_run.status, web_run.return_code) == ("success", 0), web_run.error_message
    assert web_run.read_output() == 'HTTP 200 OK\n{"ok": true}'
    assert stand_in.received[0]["body"] == b"monday"


def test_the_example_plugins_types_are_installed_and_run_through_the_scheduler(tmp_path, runscheduler,  # noqa: F811
                                                                               scripts_dir, settings, monkeypatch):
    source, site = tmp_path / "tasktype_plugin", tmp_path / "site"
    shutil.copytree(EXAMPLE, source)  # a build writes next to the sources: not into the repository
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(source)], check=True, capture_output=True, timeout=180)
    assert (site / "scheduler_extra_types" / "__init__.py").exists()
    # This process (the web side: the loader checks the type's options) and the scheduler both load it.
    monkeypatch.syspath_prepend(str(site))
    paths = "scheduler_extra_types.BashType,scheduler_extra_types.EchoType"
    settings.TASK_TYPES = paths.split(",")

    bash = task("bashed", task_type="bash", task_exec="args.sh", task_options={"args": "--full now"},
                task_env={"API_TOKEN": {"secret": "s3cr3t-token"}})
    echo = task("echoed", task_type="echo", task_options={"message": "hello ${WHO} with ${API_TOKEN}"},
                task_env={"WHO": "plugin", "API_TOKEN": keys.seal("s3cr3t-token")})
    assert bash.task_options == {"args": "--full now", "strict": True}
    runscheduler(env={"PYTHONPATH": str(site), "TASK_TYPES": paths, "TASKS_DIR": str(SCRIPTS)})

    bash_run, echo_run = ended(run_now(bash, actor="a", via="api")), ended(run_now(echo, actor="a", via="api"))

    assert bash_run.status == "success", (bash_run.error_message, bash_run.read_output())
    assert bash_run.read_output() == "args: --full now\ntoken: ***\n"
    assert echo_run.status == "success", echo_run.error_message
    assert echo_run.read_output() == "hello plugin with ***\n"
    assert "s3cr3t-token" not in echo_run.output_path.read_text()  # masked as it was written
