"""The http type through the real runner, against a local stand-in server: method, headers and body sent with
${NAME} filled from the run's environment (a secret masked in the output), the status and the first 64 KiB of
the answer kept as output, expected statuses, the timeout, the outbound guard (no internal address unless
allowed, no redirect followed)."""
import socket
import threading
import time

import pytest

from tasks_app.engine.runner import StopSignal, run_execution
from tasks_app.models import ExecutionStatus
from tasks_app.secrets import keys
from tasks_app.tasktypes.http import KEPT

from .conftest import body_json


def http_run(make_execution, stand_in, path="/ping", **options):
    return make_execution("http", task_options={"url": stand_in.url + path, **options}, task_env={
        "API_TOKEN": keys.seal("t0k3n-s3cr3t"), "DAY": "monday"})


def test_a_request_is_sent_and_its_answer_kept_as_output(make_execution, stand_in):
    stand_in.answer = (200, b'{"ok": true, "echo": "t0k3n-s3cr3t"}', 0)
    execution = http_run(make_execution, stand_in, path="/jobs/${DAY}?x=1", method="POST",
                         headers={"Authorization": "Bearer ${API_TOKEN}", "Content-Type": "application/json"},
                         body='{"day": "${DAY}"}')
    result = run_execution(execution)
    assert result.status == ExecutionStatus.SUCCESS, result.error_message
    assert result.return_code == 0 and result.pid is None
    (request,) = stand_in.received
    assert request["method"] == "POST" and request["path"] == "/jobs/monday?x=1"
    assert request["headers"]["Authorization"] == "Bearer t0k3n-s3cr3t"
    assert body_json(request) == {"day": "monday"}
    out = execution.output_path.read_text()
    assert out == 'HTTP 200 OK\n{"ok": true, "echo": "***"}'


def test_an_unexpected_status_fails_the_run_naming_it(make_execution, stand_in):
    stand_in.answer = (503, b"busy", 0)
    execution = http_run(make_execution, stand_in)
    result = run_execution(execution)
    assert (result.status, result.return_code) == ("failed", 1)
    assert result.error_message == "HTTP status 503 Service Unavailable (expected 2xx)"
    assert execution.output_path.read_text() == "HTTP 503 Service Unavailable\nbusy"


def test_expected_statuses_decide_success(make_execution, stand_in):
    stand_in.answer = (404, b"", 0)
    execution = http_run(make_execution, stand_in, method="DELETE", expected_statuses=[204, 404])
    assert run_execution(execution).status == ExecutionStatus.SUCCESS
    assert stand_in.received[0]["method"] == "DELETE"


def test_only_the_first_64_kib_of_the_answer_are_kept(make_execution, stand_in):
    stand_in.answer = (200, b"x" * (KEPT + 5000), 0)
    execution = http_run(make_execution, stand_in)
    assert run_execution(execution).status == ExecutionStatus.SUCCESS
    out = execution.output_path.read_bytes()
    assert out.startswith(b"HTTP 200 OK\n" + b"x" * KEPT)
    assert out.endswith(b"[only the first 64 KiB of the answer are kept]\n")


def test_the_tasks_timeout_is_honoured(make_execution, stand_in):
    stand_in.answer = (200, b"late", 5)
    execution = http_run(make_execution, stand_in)
    execution.task.task_timeout = 1
    began = time.monotonic()
    result = run_execution(execution)
    assert result.status == ExecutionStatus.TIMEOUT, result.error_message
    assert time.monotonic() - began < 4


def test_a_stop_ends_a_run_waiting_for_its_answer(make_execution, stand_in):
    stand_in.answer = (200, None, 10)  # the body never comes
    execution = http_run(make_execution, stand_in)
    stop, results = StopSignal(), []
    thread = threading.Thread(target=lambda: results.append(run_execution(execution, stop)))
    thread.start()
    deadline = time.monotonic() + 10
    while not stand_in.received and time.monotonic() < deadline:
        time.sleep(0.02)
    asked = time.monotonic()
    stop.set("by alice")
    thread.join(10)
    assert results[0].status == ExecutionStatus.STOPPED and results[0].error_message == "stopped: by alice"
    assert time.monotonic() - asked < 2.5


def test_an_internal_address_is_refused_unless_allowed(make_execution, stand_in, settings):
    execution = http_run(make_execution, stand_in)
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = []
    result = run_execution(execution)
    assert result.status == ExecutionStatus.FAILED
    assert result.error_message.startswith("refused: 127.0.0.1: 127.0.0.1 is not a public address")
    assert stand_in.received == []


def test_a_redirect_is_not_followed(make_execution, stand_in):
    stand_in.answer = (302, b"", 0)
    execution = http_run(make_execution, stand_in)
    result = run_execution(execution)
    assert result.status == ExecutionStatus.FAILED
    assert result.error_message == "HTTP status 302 Found (expected 2xx)"
    assert len(stand_in.received) == 1


def test_a_connection_that_cannot_be_made_fails_naming_it(make_execution, stand_in):
    execution = make_execution("http", task_options={"url": "http://127.0.0.1:9/nothing"})
    result = run_execution(execution)
    assert result.status == ExecutionStatus.FAILED and result.error_message.startswith("cannot connect: ")


def test_an_http_runs_output_lines_reach_the_log_handlers_masked(make_execution, stand_in, settings):
    from tasks_app.logs import handlers
    from tests.engine_runner import log_collector

    log_collector.received.clear()
    settings.TASK_LOG_HANDLERS = ["tests.engine_runner.log_collector.Collector"]
    stand_in.answer = (200, b"line one t0k3n-s3cr3t\nline two", 0)
    execution = http_run(make_execution, stand_in)
    assert run_execution(execution).status == ExecutionStatus.SUCCESS
    assert handlers.dispatcher.drain(10)
    assert [r.message for r in log_collector.received if r.source == "output"] == [
        "HTTP 200 OK", "line one ***", "line two"]


def test_a_performed_run_reports_its_start_with_no_process(make_execution, stand_in):
    # The engine counts it as started (overrun alerts, no missed slot); crash recovery has no pid to look for.
    starts = []
    execution = http_run(make_execution, stand_in)
    result = run_execution(execution, on_start=lambda run, pid: starts.append((run.pk, pid)))
    assert result.status == ExecutionStatus.SUCCESS and result.pid is None
    assert starts == [(execution.pk, 0)]


def trickling_server(head: bytes, stop: threading.Event, sent: threading.Event | None = None, tls=None) -> str:
    """A server that sends `head` (then sets `sent`), then one byte every 0.2 s until `stop`: each read gets
    something, so no read ever times out (a slow-loris answer). `tls`: an ssl.SSLContext to answer https with."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _address = server.accept()
        if tls is not None:
            conn = tls.wrap_socket(conn, server_side=True)
        with conn, server:
            conn.recv(65536)
            conn.sendall(head)
            if sent is not None:
                sent.set()
            while not stop.wait(0.2):
                try:
                    conn.sendall(b"a")
                except OSError:
                    return

    threading.Thread(target=serve, daemon=True).start()
    return f"{'https' if tls else 'http'}://127.0.0.1:{server.getsockname()[1]}/"


def timed_out_within_5_s(execution, stop_server):
    """Run `execution` against a trickling server (stopped after): it must end as a timeout within 5 s."""
    began = time.monotonic()
    try:
        result = run_execution(execution)
    finally:
        stop_server.set()
    assert result.status == ExecutionStatus.TIMEOUT, result.error_message
    assert time.monotonic() - began < 5
    return result


@pytest.mark.parametrize("head", [b"HTTP/1.1 200 OK\r\nX-Slow: ",
                                  b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"],
                         ids=["headers", "body"])
def test_an_answer_trickled_a_byte_at_a_time_still_ends_at_the_timeout(make_execution, settings, head):
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    stop = threading.Event()
    execution = make_execution("http", task_options={"url": trickling_server(head, stop)}, task_timeout=1)
    result = timed_out_within_5_s(execution, stop)
    assert result.error_message == "no answer within 1 s"


def test_a_stop_ends_a_run_whose_answer_trickles(make_execution, settings):
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    stop_server, trickling = threading.Event(), threading.Event()
    url = trickling_server(b"HTTP/1.1 200 OK\r\nX: ", stop_server, trickling)
    execution = make_execution("http", task_options={"url": url})
    stop, results = StopSignal(), []
    thread = threading.Thread(target=lambda: results.append(run_execution(execution, stop)))
    thread.start()
    try:
        assert trickling.wait(10)
        stop.set("by alice")
        thread.join(10)
    finally:
        stop_server.set()
    assert not thread.is_alive()
    assert results[0].status == ExecutionStatus.STOPPED and results[0].error_message == "stopped: by alice"


def test_an_https_answer_trickled_a_byte_at_a_time_still_ends_at_the_timeout(make_execution, settings, tmp_path,
                                                                                 monkeypatch):
    """TLS takes over the socket the guard opened: the watchdog must still reach the connection."""
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the run's default context trusts this one certificate
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    stop = threading.Event()
    url = trickling_server(b"HTTP/1.1 200 OK\r\nX-Slow: ", stop, tls=tls)
    execution = make_execution("http", task_options={"url": url}, task_timeout=1)
    timed_out_within_5_s(execution, stop)
