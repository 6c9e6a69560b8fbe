"""Webhooks go only to public addresses: a host that is, or resolves to, a loopback, private, link-local or
otherwise not globally routable address is refused when the task is saved and again when the notice is sent
(without connecting), unless NOTIFY_ALLOW_PRIVATE_HOSTS allows it; a redirect is a failed send, not followed."""
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from scheduler_site import env
from tasks_app import outbound
from tasks_app.engine.notify import NotifierError, WebhookNotifier, notify_execution
from tasks_app.models import ApiKey, Task, TaskExecution
from tests.api.conftest import make_user, simple_task

pytestmark = pytest.mark.django_db

REFUSED = [
    ("http://127.0.0.1:9/hook", "127.0.0.1"),
    ("http://10.0.0.1/hook", "10.0.0.1"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    ("http://[::1]:8080/hook", "::1"),
    ("http://localhost:8080/hook", "localhost"),  # a name that resolves to a loopback address
    ("http://[::ffff:10.0.0.1]/hook", "::ffff:10.0.0.1"),  # IPv4-mapped IPv6
    ("https://192.168.1.20/hook", "192.168.1.20"),
    ("http://100.64.0.1/hook", "100.64.0.1"),  # carrier-grade NAT
    ("http://0.0.0.0/hook", "0.0.0.0"),
]


@pytest.fixture(autouse=True)
def connections(monkeypatch):
    """Every address a test connects to; connecting anywhere but this machine fails the test at once, so a
    broken guard can never send traffic to a private network."""
    made = []
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        made.append(address[0])
        if address[0] not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"a test tried to connect to {address[0]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return made


class Recorder:
    """A real HTTP server on 127.0.0.1: records each request (path, Host header); answers `status`, and with
    `location` a redirect there."""

    def __init__(self, status=200, location=None):
        self.received = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.received.append((self.path, self.headers["Host"]))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    made = []

    def make(**kwargs):
        made.append(Recorder(**kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture
def operator_api(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + ApiKey.issue(make_user("otto", "operator"))[1])
    return client


def failed_execution(webhook):
    """A row written directly (no validation), as an old database or a hand edit would hold it."""
    task = Task.objects.create(task_id="t1", task_name="t1", task_exec="tasks/test_task.py",
                               task_notify={"on_failure": True, "webhook": webhook})
    execution = TaskExecution.objects.create(task=task, trigger="manual", status="failed")
    return TaskExecution.objects.select_related("task").get(pk=execution.pk)


@pytest.mark.parametrize("url, host", REFUSED)
def test_a_webhook_to_a_non_public_address_is_refused_when_saved_naming_the_field_and_host(operator_api, url, host):
    response = operator_api.post("/api/tasks", simple_task("t1", task_notify={"webhook": url}), format="json")

    assert response.status_code == 400
    (message,) = response.json()["task_notify"]
    assert message.startswith(f'task_notify.webhook: host "{host}" is refused')
    assert "not a public address" in message and "NOTIFY_ALLOW_PRIVATE_HOSTS" in message
    assert not Task.objects.exists()


@pytest.mark.parametrize("url, host", REFUSED)
def test_a_webhook_to_a_non_public_address_is_refused_when_sent_without_connecting(url, host, connections):
    with pytest.raises(NotifierError, match="refused") as info:
        WebhookNotifier(failed_execution(url)).send()

    assert not info.value.retryable
    assert connections == []


def test_a_local_server_not_allowed_sees_no_request(recorder, connections):
    server = recorder()
    with pytest.raises(NotifierError, match="127.0.0.1 is not a public address"):
        WebhookNotifier(failed_execution(server.url)).send()
    assert server.received == [] and connections == []


def test_the_setting_allows_on_premise_hosts_and_networks(operator_api, settings):
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["10.0.0.0/8", "localhost", "[::1]"]
    for task_id, url in [("a", "http://10.1.2.3/hook"), ("b", "http://localhost:8080/hook"),
                         ("c", "http://[::1]/hook")]:
        response = operator_api.post("/api/tasks", simple_task(task_id, task_notify={"webhook": url}), format="json")
        assert response.status_code == 201, response.json()
    refused = operator_api.post("/api/tasks", simple_task("d", task_notify={"webhook": "http://192.168.0.1/"}),
                                format="json")
    assert refused.status_code == 400


def test_a_public_address_and_a_name_that_does_not_resolve_yet_are_accepted_when_saved(operator_api):
    for task_id, url in [("a", "https://93.184.215.14/hook"), ("b", "https://hooks.invalid/services/T0/B0")]:
        response = operator_api.post("/api/tasks", simple_task(task_id, task_notify={"webhook": url}), format="json")
        assert response.status_code == 201, response.json()


def test_an_allowed_webhook_is_sent_to_the_checked_address_with_the_host_name_and_one_lookup(
        recorder, settings, monkeypatch, connections):
    server = recorder()
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.0/8"]
    lookups = []
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):  # the DNS answer for a made-up name (DNS is outside the product)
        lookups.append(host)
        return real("127.0.0.1" if host == "hooks.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    WebhookNotifier(failed_execution(f"http://hooks.test:{server.port}/hook?token=x")).send()

    assert server.received == [("/hook?token=x", f"hooks.test:{server.port}")]
    # The name was resolved once: the connection went to the address that was checked (connecting to an IP
    # literal asks no DNS server).
    assert [host for host in lookups if host != "127.0.0.1"] == ["hooks.test"]
    assert connections == ["127.0.0.1"]


def test_a_redirect_from_an_allowed_host_is_not_followed_and_is_logged_by_scheme_and_host(
        recorder, settings, caplog):
    target = recorder()
    redirecting = recorder(status=302, location=target.url + "/secret-token")
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    execution = failed_execution(redirecting.url + "/T000/secret")

    with pytest.raises(NotifierError, match="HTTP 302") as info:
        WebhookNotifier(execution).send()
    assert not info.value.retryable
    assert len(redirecting.received) == 1
    assert target.received == []

    lines = []
    import logging

    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logging.getLogger("TaskExecutor").addHandler(handler)
    try:
        notify_execution(execution)
    finally:
        logging.getLogger("TaskExecutor").removeHandler(handler)
    (line,) = [line for line in lines if "WebhookNotifier failed" in line]
    assert f"webhook http://127.0.0.1:{redirecting.port}/...: HTTP 302" in line
    assert "secret" not in line and str(target.port) not in line
    assert target.received == []


def test_only_http_and_https_are_opened():
    with pytest.raises(outbound.OutboundRefused, match="only http and https"):
        outbound.urlopen("file:///etc/passwd", timeout=1)


def test_the_allow_list_setting_is_read_strictly(monkeypatch):
    monkeypatch.setenv("NOTIFY_ALLOW_PRIVATE_HOSTS", "10.0.0.0/8, hooks.internal, [fd00::1], 192.168.1.5")
    assert env.env_hosts("NOTIFY_ALLOW_PRIVATE_HOSTS") == ["10.0.0.0/8", "hooks.internal", "[fd00::1]",
                                                           "192.168.1.5"]
    for bad in ("10.0.0.0/33", "http://hooks.internal", "bad host"):
        monkeypatch.setenv("NOTIFY_ALLOW_PRIVATE_HOSTS", bad)
        with pytest.raises(env.ImproperlyConfiguredEnv, match="NOTIFY_ALLOW_PRIVATE_HOSTS"):
            env.env_hosts("NOTIFY_ALLOW_PRIVATE_HOSTS")
