"""Every endpoint over real HTTP against a live server, and the document's example run by the real scheduler
process (`manage.py runscheduler` on the test database) with its log read back through the API."""
import re
from urllib.parse import quote

import pytest

from tests.engine.conftest import runscheduler, wait_for  # noqa: F401  (the engine's fixture)

from .conftest import DOCUMENT_EXAMPLE_TASK, http, simple_task

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_without_a_key_every_endpoint_answers_401_in_json(live_server, keys):
    for method, path in [("GET", "/api/tasks"), ("POST", "/api/tasks"), ("GET", "/api/tasks/x"),
                         ("DELETE", "/api/tasks/x"), ("POST", "/api/tasks/x/execute"), ("GET", "/api/tasks/x/logs"),
                         ("GET", "/api/schema/"), ("POST", "/api/import")]:
        answer = http(method, live_server.url + path, body={} if method == "POST" else None)
        assert answer.status == 401, (method, path)
        assert answer.headers["content-type"].startswith("application/") and "json" in answer.headers["content-type"]
        assert answer.headers["www-authenticate"].startswith("Bearer")


def test_roles_over_http_viewer_403_on_execute_stop_delete_operator_403_on_delete(live_server, keys):
    url = live_server.url
    assert http("POST", url + "/api/tasks", keys["operator"], simple_task("r")).status == 201
    for method, path in [("POST", "/api/tasks/r/execute"), ("POST", "/api/tasks/r/stop"), ("DELETE", "/api/tasks/r")]:
        assert http(method, url + path, keys["viewer"]).status == 403, path
    assert http("DELETE", url + "/api/tasks/r", keys["operator"]).status == 403
    assert http("DELETE", url + "/api/tasks/r", keys["admin"]).status == 204


def test_every_endpoint_answers_over_http(live_server, keys, settings):
    url, admin = live_server.url, keys["admin"]

    def call(method, path, body=None, status=200, **kwargs):
        answer = http(method, url + path, admin, body, **kwargs)
        assert answer.status == status, (method, path, answer.status, answer.body[:500])
        return answer

    created = call("POST", "/api/tasks", DOCUMENT_EXAMPLE_TASK, status=201).json()
    assert {k: created[k] for k in DOCUMENT_EXAMPLE_TASK} == DOCUMENT_EXAMPLE_TASK
    found = call("GET", "/api/tasks/?search=" + quote("测试")).json()["results"]
    assert [t["task_id"] for t in found] == ["test-task"]
    assert call("GET", "/api/tasks/test-task").json()["task_env"] == DOCUMENT_EXAMPLE_TASK["task_env"]
    call("PUT", "/api/tasks/test-task", {**DOCUMENT_EXAMPLE_TASK, "task_retry": 1})
    assert call("PATCH", "/api/tasks/test-task/", {"task_enabled": False}).json()["task_enabled"] is False
    call("PATCH", "/api/tasks/test-task", {"task_enabled": True})
    queued = call("POST", "/api/tasks/test-task/execute", status=202).json()
    history = call("GET", "/api/tasks/test-task/executions").json()
    assert history["results"][0]["execution_id"] == queued["execution_id"]
    detail = call("GET", f"/api/tasks/test-task/executions/{queued['execution_id']}").json()
    assert detail["status"] == "queued" and detail["output"] == ""
    call("GET", detail["output_url"], status=404)  # nothing captured yet
    stopped = call("POST", "/api/tasks/test-task/stop", status=202).json()
    assert stopped["stopping"] == [queued["execution_id"]]
    assert call("POST", "/api/tasks/test-task/stop", status=409).json()["detail"]
    assert call("GET", "/api/tasks/test-task/status").json()["status"] == "idle"
    next_run = call("GET", "/api/tasks/test-task/next-run?count=2&after=2024-01-01T00:00:00Z").json()
    assert len(next_run["next_run_times"]) == 2 and next_run["next_run_time"]
    (settings.LOGS_DIR / "task_test-task.log").write_text("2024-01-01 00:00:00 - INFO - test_task - 你好\n")
    logs = call("GET", "/api/tasks/test-task/logs?tail=5").json()
    assert [line["text"] for line in logs["lines"]] == ["2024-01-01 00:00:00 - INFO - test_task - 你好"]
    assert call("GET", f"/api/tasks/test-task/logs?offset={logs['next_offset']}").json()["lines"] == []
    download = call("GET", "/api/tasks/test-task/logs/download")
    assert "attachment" in download.headers["content-disposition"] and "你好".encode() in download.body
    preview = call("GET", "/api/cron/preview?expr=" + quote("*/3 * * * *"), headers={"Accept-Language": "zh-hans"})
    assert "3" in preview.json()["description"] and len(preview.json()["next_run_times"]) == 5
    exported = call("GET", "/api/export").json()
    assert [t["task_id"] for t in exported["tasks"]] == ["test-task"]
    imported = call("POST", "/api/import?dry_run=1", exported).json()
    assert imported["unchanged"] == ["test-task"]
    backups = call("GET", "/api/backups").json()
    assert backups, "creating and editing the task rewrote conf/tasks.json after a backup"
    restored = call("POST", f"/api/backups/{backups[-1]['name']}/restore").json()
    assert restored["replace"] is True
    call("DELETE", "/api/tasks/test-task", status=204)
    call("GET", "/api/tasks/test-task", status=404)
    call("GET", "/api/no/such/thing", status=404)


def test_the_schema_and_swagger_ui_are_served_from_local_files(live_server, keys):
    schema = http("GET", live_server.url + "/api/schema/", keys["viewer"])
    assert schema.status == 200 and schema.json()["openapi"].startswith("3.")
    assert "/api/tasks/{task_id}/next-run" in schema.json()["paths"]
    page = http("GET", live_server.url + "/api/docs/", keys["viewer"])
    assert page.status == 200 and b"swagger-ui" in page.body
    assets = re.findall(rb'(?:src|href)="([^"]+)"', page.body)
    assert assets and all(a.startswith(b"/") and not a.startswith(b"//") for a in assets), assets  # no CDN
    for asset in assets:
        assert http("GET", live_server.url + asset.decode()).status == 200, asset


def test_the_browsable_api_is_served_at_api_tasks(live_server, keys):
    page = http("GET", live_server.url + "/api/tasks", keys["viewer"], headers={"Accept": "text/html"})
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert b"Task List" in page.body


@pytest.mark.slow
def test_the_document_example_runs_in_the_scheduler_and_its_log_is_read_through_the_api(
        live_server, keys, runscheduler, settings):  # noqa: F811
    url, operator = live_server.url, keys["operator"]
    assert http("POST", url + "/api/tasks", operator, DOCUMENT_EXAMPLE_TASK).status == 201
    runscheduler()
    queued = http("POST", url + "/api/tasks/test-task/execute", operator)
    assert queued.status == 202
    run_url = url + queued.json()["url"]
    # test_task.py sleeps 2 s; the scheduler claims a queued run within a second.

    def finished():
        run = http("GET", run_url, operator).json()
        return run if run["status"] not in ("queued", "running") else None

    done = wait_for(finished, timeout=30, interval=0.2, what="the run to finish")
    assert done["status"] == "success", done
    assert done["return_code"] == 0 and done["duration"] >= 2
    status = http("GET", url + "/api/tasks/test-task/status", operator).json()
    assert status["last_execution"] == done["execution_id"] and status["last_status"] == "success"
    logs = http("GET", url + "/api/tasks/test-task/logs?tail=200", operator).json()
    text = "\n".join(line["text"] for line in logs["lines"])
    assert "任务开始执行" in text and "PARAM1 = 值1" in text and "执行时长" in text
    errors = http("GET", url + "/api/tasks/test-task/logs?level=ERROR", operator).json()
    assert errors["lines"] == []
