"""Fixtures for the task type tests: the scripts of ./scripts as the tasks folder, runs of them through the real
runner, and a local HTTP server standing in for the URLs an http task asks."""
import http.server
import json
import threading
from pathlib import Path

import pytest

from tasks_app.models import Task, TaskExecution

SCRIPTS = Path(__file__).resolve().parent / "scripts"


@pytest.fixture
def scripts_dir(settings, monkeypatch):
    settings.TASKS_DIR = SCRIPTS
    monkeypatch.setenv("TASKS_DIR", str(SCRIPTS))
    return SCRIPTS


@pytest.fixture
def make_execution(db, scripts_dir):
    """make_execution(task_type="shell", task_exec="hello.sh", **fields) -> a saved TaskExecution, task loaded."""
    counter = iter(range(1, 10_000))

    def make(task_type, task_exec="", **fields):
        task_id = f"type-{next(counter)}-{task_type}"
        task = Task.objects.create(task_id=task_id, task_name=task_id, task_exec=task_exec, task_type=task_type,
                                   **fields)
        execution = TaskExecution.objects.create(task=task, trigger="manual", status="running")
        return TaskExecution.objects.select_related("task").get(pk=execution.pk)

    return make


class StandIn(http.server.ThreadingHTTPServer):
    """Answers every request with `answer` (status, body bytes, seconds to wait first) and keeps what came."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received, self.answer = [], (200, b'{"ok": true}', 0)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                     "body": body})
        status, answer, wait = self.server.answer
        if answer is None:  # headers now, the body never: a client waits on it
            self.send_response(status)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.flush()
            threading.Event().wait(wait)
            return
        if wait:
            threading.Event().wait(wait)
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        if status in (301, 302):
            self.send_header("Location", "http://example.com/elsewhere")
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(answer)
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in(settings):
    """A local HTTP server the http type may reach (127.0.0.1 allowed, as an on-premise host would be)."""
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    server = StandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def body_json(request) -> dict:
    return json.loads(request["body"])
