"""One-off values in a real run: the script gets the run's values over the task's, the administrator's
SCHEDULER_TASK_ENV still wins, a value that replaces a secret reaches the script and is masked in the output
like the secret it replaces, and the page of the run shows the values (a secret as a lock)."""
import json
from datetime import datetime

import pytest
from django.test import Client

from tasks_app.engine.runner import run_execution
from tasks_app.models import ExecutionStatus
from tasks_app.secrets import keys
from tests.web.conftest import make_user

from .test_secrets_run import PASSWORD, assert_masked


def test_the_script_gets_the_runs_values_over_the_tasks(make_execution, settings, tmp_path):
    settings.SCHEDULER_TASK_ENV = {"COMPANY": "acme"}
    dump = tmp_path / "env.json"
    execution = make_execution("dump_env.py", task_allow_overrides=True,
                               task_env={"ENV_DUMP": str(dump), "DAY": "today", "KEEP": "kept"})
    execution.env_overrides = {"DAY": "2024-01-31", "COMPANY": "evil", "EXTRA": "x"}
    execution.save()
    result = run_execution(execution)
    assert result.status == ExecutionStatus.SUCCESS, result.error_message
    env = json.loads(dump.read_text())["env"]
    assert env["DAY"] == "2024-01-31" and env["KEEP"] == "kept" and env["EXTRA"] == "x"
    assert env["COMPANY"] == "acme"  # the administrator's values are not the task's to change


def test_a_value_that_replaces_a_secret_is_masked_in_the_output_and_the_page(make_execution, client):
    execution = make_execution("prints_secret.py", task_allow_overrides=True,
                               task_env={"DB_PASSWORD": keys.seal("the-old-one")})
    execution.env_overrides = {"DB_PASSWORD": keys.seal(PASSWORD), "DAY": "2024-01-31"}
    execution.save()
    result = run_execution(execution)
    assert result.status == ExecutionStatus.SUCCESS, result.error_message
    raw = execution.output_path.read_bytes().decode()
    assert "plain: ***" in raw
    assert_masked(raw)

    client.force_login(make_user("vera", "viewer"))
    html = client.get(f"/tasks/{execution.task.task_id}/executions/{execution.execution_id}").content.decode()
    section = html.split('id="run-parameters"', 1)[1].split("</section>", 1)[0]
    assert "DAY" in section and "2024-01-31" in section and "🔒" in section
    assert_masked(html)


@pytest.mark.parametrize("name", ["LD_PRELOAD", "PYTHONPATH"])
def test_a_refused_name_in_a_stored_override_stops_the_run(make_execution, name):
    # A row written around the services (raw SQL, an old version): the runner checks again.
    execution = make_execution("dump_env.py", task_allow_overrides=True)
    execution.env_overrides = {name: "/tmp/x"}
    execution.save()
    result = run_execution(execution)
    assert result.status == ExecutionStatus.FAILED and name in result.error_message


def test_a_run_started_by_a_trigger_url_gets_its_request_time_as_task_scheduled_time(make_execution, tmp_path):
    dump = tmp_path / "env.json"
    execution = make_execution("dump_env.py", trigger="hook", task_env={"ENV_DUMP": str(dump)})
    assert run_execution(execution).status == ExecutionStatus.SUCCESS
    stamp = json.loads(dump.read_text())["env"]["TASK_SCHEDULED_TIME"]
    assert datetime.fromisoformat(stamp) == execution.queued_at
