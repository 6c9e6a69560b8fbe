"""`manage.py serve` (what `make run` starts): a web process per core sharing one port, exactly one scheduler
(the web processes never start one), Ctrl-C stops them all; a session made on one web process holds on the
others; conf/tasks.json is written by the web process's writer thread and is complete once serve has stopped."""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from tasks_app.models import ApiKey
from tests.api.conftest import make_user, simple_task
from tests.engine.conftest import child_database_url, wait_for

from .conftest import _listening, free_port

pytestmark = pytest.mark.django_db(transaction=True)


def children_of(pid) -> dict:
    """{pid: command line} of the processes whose parent is `pid`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError, ValueError):
                pass
    return found


@pytest.fixture
def serve_all(tmp_path):
    """`manage.py serve --workers 2` with its scheduler, in a session of its own as a terminal would run it."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": child_database_url(), "PYTHONUNBUFFERED": "1",
           "SCHEDULER_WATCH_INTERVAL": "0"}
    out = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, str(settings.BASE_DIR / "manage.py"), "serve", "--workers=2",
                             f"--port={port}"], cwd=settings.BASE_DIR, env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: _listening(port) or proc.poll() is not None, 60, what="the web server")
    proc.port, proc.log = port, tmp_path / "serve.log"
    yield proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    out.close()


def request(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace"), response
    finally:
        connection.close()


def test_serve_runs_a_web_process_per_worker_and_one_scheduler_and_ctrl_c_stops_them_all(serve_all):
    def started():
        # A child between its fork and its exec still shows serve's own command line: wait for the exec.
        children = children_of(serve_all.pid)
        return children if len(children) == 3 and not any(" serve " in c for c in children.values()) else None
    children = wait_for(started, 30, what="serve's three children")
    commands = sorted(children.values())
    assert sum("scheduler_site.webworker" in c for c in commands) == 2
    assert sum("runscheduler" in c for c in commands) == 1, commands
    web_pids = [pid for pid, c in children.items() if "webworker" in c]
    assert all(children_of(pid) == {} for pid in web_pids)  # no scheduler (nor anything) under a web process
    assert request(serve_all.port, "GET", "/healthz")[0] == 200

    os.killpg(serve_all.pid, signal.SIGINT)  # Ctrl-C in the terminal reaches the whole group
    assert serve_all.wait(timeout=30) == 0
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), 10, what="every child to end")


def test_a_login_made_on_one_web_process_holds_on_every_request_whichever_process_answers(serve_all):
    User.objects.create_user("ada", password="pw-ada-long-enough", is_superuser=True, is_staff=True)
    status, page, response = request(serve_all.port, "GET", "/login/")
    csrf_cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie")).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = f"username=ada&password=pw-ada-long-enough&csrfmiddlewaretoken={token}"
    status, _, response = request(serve_all.port, "POST", "/login/", body, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf_cookie}",
        "Referer": f"http://127.0.0.1:{serve_all.port}/login/"})
    assert status == 302, response.getheaders()
    session = re.search(r"sessionid=([^;]+)", response.getheader("Set-Cookie")).group(1)
    # Each request on a new connection: the kernel hands them to both web processes.
    statuses = {request(serve_all.port, "GET", "/", headers={"Cookie": f"sessionid={session}"})[0]
                for _ in range(12)}
    assert statuses == {200}


def test_an_edit_through_the_api_is_in_conf_tasks_json_soon_and_surely_once_serve_stopped(serve_all):
    key = ApiKey.issue(make_user("otto", "operator"))[1]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    path = Path(settings.CONF_DIR) / "tasks.json"
    status, text, _ = request(serve_all.port, "POST", "/api/tasks", json.dumps(simple_task("t1")), headers)
    assert status == 201, text
    for n in range(5):
        status, text, _ = request(serve_all.port, "PATCH", "/api/tasks/t1",
                                  json.dumps({"task_desc": f"edit {n}"}), headers)
        assert status == 200, text

    def described():
        try:
            tasks = json.loads(path.read_text(encoding="utf-8"))["tasks"]
        except (OSError, ValueError):
            return None
        return [t["task_desc"] for t in tasks if t["task_id"] == "t1"]

    wait_for(lambda: described() == ["edit 4"], 60, what="the writer thread to write the last edit")
    request(serve_all.port, "PATCH", "/api/tasks/t1", json.dumps({"task_desc": "the last one"}), headers)
    os.killpg(serve_all.pid, signal.SIGTERM)
    assert serve_all.wait(timeout=30) == 0
    assert described() == ["the last one"]  # written before the web process exited
