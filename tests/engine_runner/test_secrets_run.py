"""A secret in a real run: the script receives the plain value in its environment, and nowhere else does it
appear: printed plain, base64, URL-encoded or cut over two writes, it is *** in the captured output, the task log
as read through the API and the page, the error message, and the e-mail and webhook notices."""
import base64
import hashlib
import http.server
import json
import threading
import urllib.parse

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from tasks_app.definition.paths import task_log_file
from tasks_app.engine import notify
from tasks_app.engine.runner import run_execution
from tasks_app.models import ExecutionStatus, Task
from tasks_app.secrets import keys
from tests.web.conftest import make_user

PASSWORD = "Sup3r/s3cret+pass=word&more"
FORMS = (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(), urllib.parse.quote(PASSWORD, safe=""),
         base64.urlsafe_b64encode(PASSWORD.encode()).decode().rstrip("="))


def assert_masked(text):
    for form in FORMS:
        assert form not in text, form
    # no piece of it either, e.g. the half written before the pause
    assert PASSWORD[:len(PASSWORD) // 2] not in text and PASSWORD[len(PASSWORD) // 2:] not in text


@pytest.fixture
def secret_run(make_execution, settings):
    def run(**env):
        execution = make_execution("prints_secret.py", task_env={"DB_PASSWORD": keys.seal(PASSWORD), **env},
                                   task_notify={"on_failure": True, "on_success": True, "email": "ops@example.com"})
        result = run_execution(execution)
        execution.status, execution.error_message = result.status, result.error_message
        execution.return_code, execution.start_time, execution.end_time = (result.return_code, result.start_time,
                                                                           result.end_time)
        execution.save()
        return execution, result
    return run


def test_the_script_gets_the_plain_value_and_the_output_holds_only_stars(secret_run):
    execution, result = secret_run()
    assert result.status == ExecutionStatus.SUCCESS, execution.output_path.read_text()
    raw = execution.output_path.read_bytes().decode()  # the file as stored, not as read back
    assert f"sha256: {hashlib.sha256(PASSWORD.encode()).hexdigest()}" in raw
    assert_masked(raw)
    for line in ("plain: ***", "b64: ***", "urlsafe: ***", "url: ***", "split: *** end", "stderr: ***"):
        assert line in raw, line


def test_the_error_message_and_the_traceback_hold_only_stars(secret_run):
    execution, result = secret_run(RAISE="1")
    assert result.status == ExecutionStatus.FAILED
    assert_masked(result.error_message)
    raw = execution.output_path.read_bytes().decode()
    assert "RuntimeError: cannot connect with password ***" in raw
    assert_masked(raw)


def test_the_task_log_is_masked_through_the_api_the_page_and_the_downloads(secret_run, db):
    execution, _ = secret_run()
    task = execution.task
    assert PASSWORD in task_log_file(task).read_text(encoding="utf-8")  # the script wrote it in clear itself
    api = APIClient()
    api.force_authenticate(make_user("vera", "viewer"))
    answer = api.get(f"/api/tasks/{task.task_id}/logs").json()
    texts = "\n".join(line["text"] for line in answer["lines"])
    assert "connecting with ***" in texts and "token ***" in texts
    assert_masked(texts)
    # The search looks at the masked text: the secret itself finds nothing.
    assert api.get(f"/api/tasks/{task.task_id}/logs", {"search": PASSWORD[:8]}).json()["lines"] == []
    page = Client()
    page.force_login(make_user("otto", "operator"))
    for url in (f"/tasks/{task.task_id}/logs/lines", f"/tasks/{task.task_id}/logs/download",
                f"/api/tasks/{task.task_id}/logs/download"):
        client = api if url.startswith("/api") else page
        body = b"".join(client.get(url).streaming_content).decode() if "download" in url else \
            client.get(url).content.decode()
        assert "***" in body, url
        assert_masked(body)
    detail = api.get(f"/api/tasks/{task.task_id}/executions/{execution.execution_id}").json()
    assert "plain: ***" in detail["output"]
    assert_masked(json.dumps(detail))


class Hook(http.server.BaseHTTPRequestHandler):
    bodies = []

    def do_POST(self):
        Hook.bodies.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server(settings):
    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    Hook.bodies = []
    yield f"http://127.0.0.1:{server.server_port}/hook/SECRET-PATH-TOKEN"
    server.shutdown()


def test_the_email_and_webhook_notices_hold_only_stars(secret_run, hook_server, settings):
    execution, _ = secret_run(RAISE="1")
    Task.objects.filter(pk=execution.task.pk).update(task_notify={
        "on_failure": True, "email": "ops@example.com", "webhook": keys.seal(hook_server, shown="http://127.0.0.1/...")})
    execution.task.refresh_from_db()
    execution.error_message = f"exit code 1 after printing {PASSWORD}"  # as if an error message held it
    notify.notify_execution(execution)
    assert len(mail.outbox) == 1
    assert "cannot connect with password ***" in mail.outbox[0].body
    assert_masked(mail.outbox[0].body + mail.outbox[0].subject)
    assert len(Hook.bodies) == 1
    sent = json.loads(Hook.bodies[0])
    assert sent["error_message"] == "exit code 1 after printing ***"
    assert_masked(Hook.bodies[0])


def test_a_secret_no_key_opens_fails_the_run_naming_the_key_and_nothing_starts(make_execution):
    from cryptography.fernet import Fernet

    foreign = {"encrypted": Fernet(Fernet.generate_key()).encrypt(b"x").decode()}
    execution = make_execution("prints_secret.py", task_env={"DB_PASSWORD": foreign})
    result = run_execution(execution)
    assert result.status == ExecutionStatus.FAILED and result.pid is None
    assert "task_env value of 'DB_PASSWORD' cannot be decrypted" in result.error_message


def test_after_rotation_and_retirement_the_task_still_runs_with_the_right_value(secret_run, make_execution):
    from django.core.management import call_command
    import io

    execution = make_execution("prints_secret.py", task_env={"DB_PASSWORD": keys.seal(PASSWORD)})
    old_key = keys.current_keys()[0]
    call_command("rotate_secrets_key", stdout=io.StringIO())
    call_command("rotate_secrets_key", "--retire", stdout=io.StringIO())
    assert old_key not in keys.current_keys()
    execution = type(execution).objects.select_related("task").get(pk=execution.pk)
    result = run_execution(execution)
    assert result.status == ExecutionStatus.SUCCESS
    raw = execution.output_path.read_bytes().decode()
    assert f"sha256: {hashlib.sha256(PASSWORD.encode()).hexdigest()}" in raw and "plain: ***" in raw


def test_no_log_line_of_the_engine_holds_a_secret(secret_run, caplog):
    import logging

    names = ("APIInterface", "Scheduler", "SchedulerEngine", "TaskExecutor", "TaskLoader", "WebInterface")
    for name in names:
        logging.getLogger(name).addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    try:
        secret_run(RAISE="1")
        api = APIClient()
        api.force_authenticate(make_user("otto", "operator"))
        api.post("/api/tasks", {"task_id": "logged", "task_name": "x", "task_exec": "prints_secret.py",
                                "task_schedule": "@daily", "task_env": {"DB_PASSWORD": {"secret": PASSWORD}}},
                 format="json")
        api.patch("/api/tasks/logged", {"task_env": {"DB_PASSWORD": {"secret": PASSWORD + "2"}, "BAD NAME": "x"}},
                  format="json")
        api.patch("/api/tasks/logged", {"task_env": {"DB_PASSWORD": {"secret": PASSWORD + "3"}}}, format="json")
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(caplog.handler)
    assert "Task logged updated by otto via api: changed task_env (~DB_PASSWORD)" in caplog.text
    assert_masked(caplog.text)


def test_a_chatty_run_with_secrets_keeps_all_its_output_through_the_masking_pipe_in_order(start_way, make_execution, settings):
    # 30,000 lines of 100 bytes (3 MB) through the shepherd's pipe, with a secret that matches nothing.
    settings.SCHEDULER_OUTPUT_LIMIT = 10 * 1024 * 1024
    execution = make_execution("chatty.py", task_env={"LINES": "30000", "UNUSED": keys.seal("never-printed")})
    result = run_execution(execution)
    assert result.status == ExecutionStatus.SUCCESS
    lines = execution.output_path.read_bytes().decode().splitlines()
    numbered = [line for line in lines if line.startswith("line ")]
    assert len(numbered) == 30000 and numbered[0].startswith("line 00000000") and numbered[-1].startswith(
        "line 00029999")
    assert "the end" in lines


def test_a_run_stopped_by_its_timeout_mid_secret_stores_no_part_of_it(start_way, make_execution):
    execution = make_execution("half_secret_then_sleep.py", task_timeout=1,
                               task_env={"DB_PASSWORD": keys.seal(PASSWORD)})
    result = run_execution(execution)
    assert result.status == ExecutionStatus.TIMEOUT
    raw = execution.output_path.read_bytes().decode()
    assert "before" in raw and PASSWORD[:len(PASSWORD) // 2] not in raw
    assert raw.rstrip().endswith("before ***")
