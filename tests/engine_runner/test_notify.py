"""Notifications: e-mail (locmem backend), webhook (a real local HTTP server), and failing notifiers."""
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from tasks_app.engine import notify
from tasks_app.engine.notify import NotifierError, WebhookNotifier, notify_execution, notify_execution_later
from tasks_app.engine.runner import run_execution

pytestmark = pytest.mark.django_db


def run_and_record(execution):
    """Run it and store the result the way the scheduler's on_finish does."""
    result = run_execution(execution)
    for name in ("status", "return_code", "error_message", "start_time", "end_time", "duration",
                 "output_truncated", "pid"):
        setattr(execution, name, getattr(result, name))
    execution.save()
    return execution


@pytest.fixture
def executor_log():
    """Lines logged by "TaskExecutor" (it does not propagate to the root logger, so executor_log misses them)."""
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("TaskExecutor")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


class ExplodingNotifier(notify.Notifier):
    def applies(self):
        return True

    def send(self):
        raise RuntimeError("boom")


@pytest.fixture
def webhook_server(settings):
    """A real HTTP server on 127.0.0.1 recording each POST; .status and .delay set its answer. Notifications go
    only to public addresses unless allowed: this on-premise target is allowed explicitly."""
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            time.sleep(server.delay)
            self.send_response(server.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.status, server.delay, server.received = 200, 0, received
    server.handle_error = lambda request, address: None  # a client that gave up (timeout test) is expected
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_failure_email_names_the_task_status_duration_code_error_output_tail_and_link(make_execution, settings):
    settings.SITE_URL = "https://scheduler.example.com"
    execution = run_and_record(make_execution(
        "chatty.py", task_id="nightly", task_name="夜间任务", task_env={"LINES": "80", "EXIT_CODE": "3"},
        task_notify={"on_success": False, "on_failure": True, "email": "ops@example.com, lead@example.com"},
    ))

    notify_execution(execution)

    (message,) = mail.outbox
    assert message.to == ["ops@example.com", "lead@example.com"]
    assert message.subject == "[scheduler] nightly: failed"
    body = message.body
    assert "Task: 夜间任务 (nightly)" in body
    assert "Status: failed" in body
    assert f"Duration: {execution.duration:.2f} s" in body
    assert "Return code: 3" in body and "Error: exit code 3" in body
    # The last 50 lines: 49 numbered lines and the stderr line.
    assert "line 00000079" in body and "line 00000031" in body and "line 00000030" not in body
    assert "the end" in body
    assert f"https://scheduler.example.com/tasks/nightly/executions/{execution.execution_id}" in body


def test_no_notice_goes_out_unless_the_task_asked_for_that_outcome(make_execution):
    failed = run_and_record(make_execution("exit_one.py", task_notify={"on_failure": False, "email": "a@b.c"}))
    quiet = run_and_record(make_execution("chatty.py", task_env={"LINES": "1"},
                                          task_notify={"on_failure": True, "email": "a@b.c"}))
    notify_execution(failed)
    notify_execution(quiet)
    assert mail.outbox == []

    loud = run_and_record(make_execution("chatty.py", task_env={"LINES": "1"},
                                         task_notify={"on_success": True, "email": "a@b.c"}))
    notify_execution(loud)
    assert [m.subject for m in mail.outbox] == [f"[scheduler] {loud.task.task_id}: success"]


def test_a_run_stopped_by_a_user_is_not_reported_as_a_failure(make_execution):
    execution = make_execution("exit_one.py", task_notify={"on_failure": True, "email": "a@b.c"})
    execution.status, execution.error_message = "stopped", "stopped: by alice"

    notify_execution(execution)

    assert mail.outbox == []


def test_a_timeout_and_a_dependency_skip_are_failures(make_execution):
    for status in ("timeout", "skipped", "lost"):
        execution = make_execution("exit_one.py", task_notify={"on_failure": True, "email": "a@b.c"})
        execution.status = status
        notify_execution(execution)
    assert len(mail.outbox) == 3


def test_the_webhook_receives_a_json_summary(make_execution, webhook_server, settings):
    settings.SITE_URL = "http://sched.local"
    execution = run_and_record(make_execution("exit_one.py", task_id="hooked",
                                              task_notify={"on_failure": True, "webhook": webhook_server.url}))

    notify_execution(execution)

    ((path, content_type, body),) = webhook_server.received
    assert path == "/hook" and content_type.startswith("application/json")
    data = json.loads(body)
    assert data["task_id"] == "hooked" and data["execution_id"] == execution.execution_id
    assert (data["status"], data["return_code"], data["error_message"]) == ("failed", 1, "exit code 1")
    assert data["start_time"] == execution.start_time.isoformat() and data["duration"] == execution.duration
    assert data["url"] == f"http://sched.local/tasks/hooked/executions/{execution.execution_id}"
    assert mail.outbox == []  # no e-mail address, no e-mail


def test_a_webhook_answering_500_is_tried_once_more_and_a_404_is_not(make_execution, webhook_server, monkeypatch,
                                                                     executor_log):
    monkeypatch.setattr(notify, "RETRY_DELAY", 0)
    execution = run_and_record(make_execution("exit_one.py",
                                              task_notify={"on_failure": True, "webhook": webhook_server.url}))
    webhook_server.status = 500
    notify_execution(execution)
    assert len(webhook_server.received) == 2
    assert any(line.endswith("HTTP 500 (retrying may help)") for line in executor_log)

    webhook_server.status = 404
    notify_execution(execution)
    assert len(webhook_server.received) == 3
    assert any(line.endswith("HTTP 404 (permanent)") for line in executor_log)
    execution.refresh_from_db()
    assert execution.status == "failed"


def test_a_failing_webhook_is_logged_without_the_secret_in_its_url(make_execution, webhook_server, executor_log):
    secret_url = webhook_server.url + "/T000/B000/XXXXsecretXXXX?token=abc"
    execution = run_and_record(make_execution("exit_one.py", task_notify={"on_failure": True, "webhook": secret_url}))
    webhook_server.status = 404

    notify_execution(execution)

    assert webhook_server.received[0][0] == "/hook/T000/B000/XXXXsecretXXXX?token=abc"  # the real URL was used
    (line,) = [line for line in executor_log if "WebhookNotifier failed" in line]
    host = webhook_server.url.split("/")[2]
    assert f"webhook http://{host}/...: HTTP 404" in line
    assert "XXXXsecretXXXX" not in line and "abc" not in line


def test_a_slow_webhook_times_out_as_a_retryable_error(make_execution, webhook_server, monkeypatch):
    monkeypatch.setattr(notify, "WEBHOOK_TIMEOUT", 0.3)
    webhook_server.delay = 1
    execution = make_execution("exit_one.py", task_notify={"on_failure": True, "webhook": webhook_server.url})
    execution.status = "failed"

    with pytest.raises(NotifierError) as info:
        WebhookNotifier(execution).send()

    assert info.value.retryable


def test_a_webhook_must_be_http(make_execution):
    execution = make_execution("exit_one.py", task_notify={"on_failure": True, "webhook": "file:///etc/passwd"})
    execution.status = "failed"

    with pytest.raises(NotifierError, match="only http and https") as info:
        WebhookNotifier(execution).send()

    assert not info.value.retryable


def test_a_notifier_that_raises_is_logged_and_the_others_still_run(make_execution, settings, executor_log):
    settings.TASK_NOTIFIERS = ["tests.engine_runner.test_notify.ExplodingNotifier",
                               "tasks_app.engine.notify.EmailNotifier"]
    execution = run_and_record(make_execution("exit_one.py", task_notify={"on_failure": True, "email": "a@b.c"}))

    notify_execution(execution)  # does not raise

    assert any("ExplodingNotifier failed" in line and "boom" in line for line in executor_log)
    assert len(mail.outbox) == 1
    execution.refresh_from_db()
    assert (execution.status, execution.return_code) == ("failed", 1)


def test_a_bad_notifier_path_is_logged_not_raised(make_execution, settings, executor_log):
    settings.TASK_NOTIFIERS = ["tasks_app.engine.notify.NoSuchNotifier"]
    execution = make_execution("exit_one.py", task_notify={"on_failure": True, "email": "a@b.c"})
    execution.status = "failed"

    notify_execution(execution)

    assert any("bad TASK_NOTIFIERS setting" in line for line in executor_log)


@pytest.mark.django_db(transaction=True)  # the pool's thread records the notice through its own connection
def test_notices_can_be_sent_in_the_background(make_execution):
    execution = make_execution("exit_one.py", task_notify={"on_failure": True, "email": "a@b.c"})
    execution.status = "failed"

    notify_execution_later(execution).result(timeout=10)

    assert len(mail.outbox) == 1
