"""Fixtures of the hardened-front tests: the product served by `manage.py serve` (waitress, a real process on the
test database, logging to the test's own logs/sys.log) and a free local port."""
import os
import signal
import socket
import subprocess
import sys

import pytest
from django.conf import settings

from tests.engine.conftest import child_database_url, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


class Served:
    def __init__(self, proc, port, output):
        self.proc, self.port, self.output = proc, port, output
        self.url = f"http://127.0.0.1:{port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def serve(transactional_db, tmp_path):
    """serve(env={...}) -> Served: `manage.py serve --no-scheduler` on a free port, stopped at teardown."""
    started = []

    def start(env=None):
        port = free_port()
        child_env = {**os.environ, "DATABASE_URL": child_database_url(), "PYTHONUNBUFFERED": "1", **(env or {})}
        output = tmp_path / f"serve-{port}.log"
        with open(output, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, str(settings.BASE_DIR / "manage.py"), "serve", "--no-scheduler", f"--port={port}"],
                cwd=settings.BASE_DIR, env=child_env, stdout=out, stderr=subprocess.STDOUT)
        served = Served(proc, port, output)
        started.append(served)
        wait_for(lambda: _listening(port) or proc.poll() is not None, 60, interval=0.05, what="the web server")
        assert proc.poll() is None, output.read_text(errors="replace")
        return served

    yield start
    for served in started:
        served.stop()
