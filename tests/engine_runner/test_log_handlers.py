"""TASK_LOG_HANDLERS: each run's output lines reach every handler as the run writes them, masked; a handler that
fails is logged and breaks nothing; the built-in handler writes logs/tasks.jsonl (task, execution, level, time,
message), also from the real scheduler process."""
import json
import logging
import threading

import pytest
from django.conf import settings as django_settings

from tasks_app.engine.runner import run_execution
from tasks_app.logs import handlers
from tasks_app.models import ExecutionStatus, TaskExecution
from tasks_app.secrets import keys
from tasks_app.services.executions import run_now
from tests.engine.conftest import engine_scripts, make_task, runscheduler, wait_for  # noqa: F401  (fixtures)

from . import log_collector

COLLECT = "tests.engine_runner.log_collector.Collector"
BROKEN = "tests.engine_runner.log_collector.Broken"
JSONL = "tasks_app.logs.handlers.JsonLinesHandler"


@pytest.fixture(autouse=True)
def fresh_collector():
    log_collector.received.clear()
    yield
    handlers.dispatcher.drain(10)


def messages(source="output"):
    with log_collector.lock:
        return [r.message for r in log_collector.received if r.source == source]


def test_a_handler_receives_each_line_while_the_run_still_runs(make_execution, settings, tmp_path):
    settings.TASK_LOG_HANDLERS = [COLLECT]
    go = tmp_path / "go"
    # (With a secret, the shepherd holds back a secret's length of output until more comes or the run ends, so
    # that a secret cut over two writes is masked whole: such a task's last line may come a little later.)
    execution = make_execution("lines_then_wait.py", task_env={"DB_PASSWORD": "not-a-secret", "GO_FILE": str(go)})
    results = []
    thread = threading.Thread(target=lambda: results.append(run_execution(execution)))
    thread.start()
    # The first lines arrive before the script goes on: they are read as they are written.
    wait_for(lambda: "to stderr" in messages(), 15, what="the first lines at the handler")
    assert thread.is_alive()
    go.touch()
    thread.join(20)
    assert results[0].status == ExecutionStatus.SUCCESS
    assert handlers.dispatcher.drain(10)
    assert messages() == ["first line not-a-secret", "to stderr", "last line"]
    (end,) = [r for r in log_collector.received if r.source == "engine"]
    assert end.level == "INFO" and end.message.startswith(f"Execution {execution.execution_id} finished: success")
    record = log_collector.received[0]
    assert (record.task, record.execution, record.level) == (execution.task.task_id, execution.execution_id, "INFO")
    assert record.time.tzinfo is not None and record.time.utcoffset().total_seconds() == 0


def test_a_failing_handler_is_logged_and_breaks_nothing(make_execution, settings, tmp_path):
    seen = []
    catcher = logging.Handler()
    catcher.emit = lambda record: seen.append(record.getMessage() + str(record.exc_info and record.exc_info[1]))
    logging.getLogger("TaskExecutor").addHandler(catcher)
    settings.TASK_LOG_HANDLERS = [BROKEN, COLLECT]
    go = tmp_path / "go"
    go.touch()
    execution = make_execution("lines_then_wait.py", task_env={"GO_FILE": str(go)})
    result = run_execution(execution)
    assert result.status == ExecutionStatus.SUCCESS
    assert handlers.dispatcher.drain(10)
    assert messages() == ["first line ", "to stderr", "last line"]  # the next handler still got every line
    logging.getLogger("TaskExecutor").removeHandler(catcher)
    assert any("Log handler tests.engine_runner.log_collector.Broken failed" in line
               and "the log shipper is down" in line for line in seen)


def test_the_built_in_handler_writes_json_lines_with_task_execution_level_time_and_message(make_execution,
                                                                                          settings, tmp_path):
    settings.TASK_LOG_HANDLERS = [JSONL]
    go = tmp_path / "go"
    go.touch()
    execution = make_execution("lines_then_wait.py", task_env={"GO_FILE": str(go),
                                                               "DB_PASSWORD": keys.seal("hunter2-secret")})
    run_execution(execution)
    assert handlers.dispatcher.drain(10)
    path = django_settings.LOGS_DIR / "tasks.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["message"] for line in lines][:3] == ["first line ***", "to stderr", "last line"]
    assert "hunter2" not in path.read_text()  # masked before any handler sees it
    first = lines[0]
    assert set(first) == {"task", "execution", "level", "time", "message", "source"}
    assert (first["task"], first["execution"], first["level"]) == (execution.task.task_id,
                                                                   execution.execution_id, "INFO")
    assert first["time"].endswith("Z")
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_an_http_tasks_output_reaches_the_handlers_too(make_execution, settings):
    settings.TASK_LOG_HANDLERS = [COLLECT]
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    execution = make_execution("", task_type="http", task_options={"url": "http://127.0.0.1:9/"})
    result = run_execution(execution)
    assert result.status == ExecutionStatus.FAILED
    assert handlers.dispatcher.drain(10)
    assert messages() == []  # it wrote nothing
    (end,) = [r for r in log_collector.received if r.source == "engine"]
    assert end.level == "ERROR" and "cannot connect" in end.message


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_process_writes_tasks_jsonl(runscheduler, make_task, engine_scripts):
    task = make_task("jsonl", task_exec="ok.py")
    runscheduler(env={"TASK_LOG_HANDLERS": JSONL})
    execution = run_now(task, actor="alice", via="api")
    path = django_settings.LOGS_DIR / "tasks.jsonl"

    def finished_line():
        if not path.exists():
            return None
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        return [line for line in lines if line["source"] == "engine"]

    (end,) = wait_for(finished_line, 30, what="the run's lines in tasks.jsonl")
    assert end["task"] == "jsonl" and end["execution"] == execution.pk and end["level"] == "INFO"
    # The line is handed over as the run ends, a moment before its end is recorded.
    wait_for(lambda: TaskExecution.objects.get(pk=execution.pk).status == "success", 30, what="the recorded end")
