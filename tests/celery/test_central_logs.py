"""Central logs, done when: a run on a real Celery worker (its own process, --hostname and LOGS_DIR / CONF_DIR, as
on another machine: the web side cannot read its files) is followed live through the web server's API and its
log page, each line within 2 s of being written; after the worker is stopped and its files deleted, the log and
the output are still readable and downloadable. The task's secret never shows."""
import json
import os
import shutil
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tasks_app.models import ApiKey, ExecutionLogChunk, ExecutionStatus
from tasks_app.secrets import keys
from tasks_app.services.executions import run_now
from tests.browser import PASSWORD

from .conftest import ended, needs_postgresql, needs_redis, queue_name, start_worker, started_on, wait_for

pytestmark = [needs_postgresql, needs_redis, pytest.mark.slow, pytest.mark.e2e]  # e2e: a real browser too

LINES = 6
SECRET = "hunter2-central-secret"
WITHIN = 2.0  # seconds from a line's writing to its showing on the web side


def get(url, key):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def api_log_text(base, key, task_id):
    return "\n".join(line["text"] for line in json.loads(get(f"{base}/api/tasks/{task_id}/logs?tail=500", key)[1])
                     ["lines"])


def test_a_run_on_another_machine_is_followed_live_and_stays_readable_after_its_worker_is_gone(
        logged_in, live_server, celery_scheduler, make_task, tmp_path, settings):
    queue = queue_name("clogs")
    pace = tmp_path / "pace"
    pace.mkdir()
    task = make_task("far-away", task_exec="paced.py", task_queue=queue,
                     task_env={"PACE_DIR": str(pace), "LINES": str(LINES), "SECRET": keys.seal(SECRET)})
    settings.SCHEDULER_EXECUTOR = "celery"  # the web side is configured as in a cluster (deploy.md)
    machine_b = tmp_path / "machine-b"
    worker = start_worker(machine_b, f"b.{os.getpid()}@test", [queue])
    worker_logs = machine_b / worker.hostname.split("@")[0] / "logs"
    try:
        key = ApiKey.issue(_user("api-viewer"), name="viewer key")[1]
        page = logged_in("viewer")
        page.goto(f"/tasks/{task.task_id}/logs")
        celery_scheduler()
        run = run_now(task, actor="alice", via="api")
        assert wait_for(lambda: started_on(run.pk), 30, what="the worker to claim the run") == worker.name

        delays = {"api": [], "page": []}
        for n in range(LINES):
            wanted = f"line {n} of the log at "
            seen = {}
            stamp = None
            deadline = time.monotonic() + 15
            while len(seen) < 2 and time.monotonic() < deadline:
                text = api_log_text(live_server.url, key, task.task_id)
                if "api" not in seen and wanted in text:
                    seen["api"] = time.time()
                    stamp = float(text.split(wanted)[1].split()[0])
                if "page" not in seen and wanted in page.locator("#log-lines").inner_text():
                    seen["page"] = time.time()
                page.wait_for_timeout(50)  # lets the page's own poll (every second) run
            assert set(seen) == {"api", "page"}, f"line {n} never showed: {seen}"
            for where, moment in seen.items():
                delays[where].append(round(moment - stamp, 2))
            (pace / f"ack-{n}").touch()
        print(f"\nseconds from writing a line on the worker to seeing it on the web side: {delays}")
        assert max(delays["api"]) < WITHIN and max(delays["page"]) < WITHIN, delays
        assert not (settings.LOGS_DIR / f"task_{task.task_id}.log").exists(), "the web side has no file of it"

        finished = wait_for(lambda: ended(run.pk), 30, what="the run to end")
        assert finished.status == ExecutionStatus.SUCCESS
    finally:
        worker.stop()
    shutil.rmtree(worker_logs)  # the worker's machine is gone, and its files with it

    # The log: through the API, its download and the log page.
    text = api_log_text(live_server.url, key, task.task_id)
    for n in range(LINES):
        assert f"line {n} of the log at " in text
    assert f"Execution {run.pk} finished: success" in text
    status, body = get(f"{live_server.url}/api/tasks/{task.task_id}/logs/download", key)
    assert status == 200 and body.decode().count(" of the log at ") == LINES
    page.goto(f"/tasks/{task.task_id}/logs")
    expect(page.locator("#log-lines")).to_contain_text(f"line {LINES - 1} of the log at ")
    download = page.request.get(f"/tasks/{task.task_id}/logs/download")
    assert download.ok and download.body() == body

    # The output: in the run's API record, its download and its page.
    detail = json.loads(get(f"{live_server.url}/api/tasks/{task.task_id}/executions/{run.pk}", key)[1])
    assert [line.split(" at ")[0] for line in detail["output"].splitlines()] == [
        f"output line {n}" for n in range(LINES)]
    status, output = get(f"{live_server.url}{detail['output_url']}", key)
    assert status == 200 and output.decode() == detail["output"]
    page.goto(f"/tasks/{task.task_id}/executions/{run.pk}")
    expect(page.locator("#execution-output")).to_contain_text(f"output line {LINES - 1} at ")

    # The secret was masked before it left the worker's machine.
    for shown in (text, body.decode(), output.decode(), detail["output"]):
        assert SECRET not in shown and "with ***" in shown
    stored = b"".join(bytes(d) for d in ExecutionLogChunk.objects.values_list("data", flat=True))
    assert SECRET.encode() not in stored


def _user(name):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(name, password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    return user
