"""The example notifier plugin (examples/notifier_plugin) is installed as a package and a real scheduler loads it
through TASK_NOTIFIERS: a failed run's notice lands in its file and shows on the run's page."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tasks_app.models import Notice
from tasks_app.services.executions import run_now
from tests.engine.conftest import wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "notifier_plugin"
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_example_notifier_plugin_is_installed_and_the_scheduler_sends_through_it(tmp_path, runscheduler,
                                                                                      make_task, engine_scripts):
    source, site = tmp_path / "notifier_plugin", tmp_path / "site"
    shutil.copytree(EXAMPLE, source)  # a build writes next to the sources: not into the repository
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(source)], check=True, capture_output=True, timeout=180)
    assert (site / "scheduler_jsonl_notifier" / "__init__.py").exists()
    notices = tmp_path / "notices.jsonl"
    task = make_task("plugged", task_exec="fail.py", task_notify={"on_failure": True})

    runscheduler(env={"PYTHONPATH": str(site), "NOTICES_JSONL": str(notices),
                      "TASK_NOTIFIERS": "tasks_app.engine.notify.EmailNotifier,"
                                        "scheduler_jsonl_notifier.JsonLinesNotifier"})
    execution = run_now(task, actor="alice", via="api")

    line = wait_for(lambda: notices.exists() and notices.read_text().strip(), 30, what="the plugin's notice")
    data = json.loads(line)
    assert (data["task_id"], data["execution_id"], data["status"], data["return_code"]) == \
        ("plugged", execution.pk, "failed", 1)
    notice = wait_for(lambda: Notice.objects.filter(execution_id=execution.pk).first(), 10, what="the record")
    assert (notice.channel, notice.status, notice.target) == ("JsonLinesNotifier", "sent", f"file:{notices}")
