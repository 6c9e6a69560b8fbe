"""The http type through the real runner, against a local stand-in server: method, headers and body sent with
${NAME} filled from the run's environment (a secret masked in the output), the status and the first 64 KiB of
the answer kept as output, expected statuses, the timeout, the outbound guard (no internal address unless
allowed, no redirect followed)."""
import threading
import time

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
