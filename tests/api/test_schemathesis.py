"""A property-based run of the published OpenAPI schema (schemathesis, in process through WSGI on the test
database): no answer is a 5xx, and every answer (status, content type, headers, body) is the one documented."""
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tasks_app.models import Backfill, Calendar, Pause, Task, TaskExecution
from tasks_app.services import hooks as hook_services
from tasks_app.services import pauses as pause_services
from tasks_app.services.backfills import start_backfill
from tasks_app.services.calendars import create_calendar
from tasks_app.services.tasks import create_task

from .conftest import DOCUMENT_EXAMPLE_TASK

# negative_data_rejection is left out: like most DRF APIs this one ignores unknown query parameters.
MAX_EXAMPLES = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# Valid and invalid data, from the coverage phase (boundary values of every field and parameter, run as
# explicit examples) and a few random ones per operation. Operations whose only input is the path get valid
# data only: invalid task ids just miss the route (404), and generating them costs most of the run's time.
PATH_ONLY = [
    "GET /api/tasks/{task_id}", "DELETE /api/tasks/{task_id}", "POST /api/tasks/{task_id}/execute",
    "POST /api/tasks/{task_id}/stop", "GET /api/tasks/{task_id}/status", "GET /api/tasks/{task_id}/logs/download",
    "GET /api/tasks/{task_id}/executions/{execution_id}", "GET /api/tasks/{task_id}/executions/{execution_id}/output",
    "POST /api/backups/{name}/restore", "GET /api/backups", "GET /api/export",
    "POST /api/tasks/{task_id}/versions/{number}/restore",
]
CONFIG = SchemathesisConfig.from_dict({
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
    "operations": [{"include-name": PATH_ONLY, "generation": {"mode": "positive", "max-examples": MAX_EXAMPLES}}],
})


def ensure_known_task():
    """The document's task with one finished run, so generated requests reach real objects, not only 404s."""
    task = Task.objects.filter(task_id="test-task").first()
    if task is None:
        task = create_task(DOCUMENT_EXAMPLE_TASK, actor="schemathesis", via="cli")
    if not task.executions.exists():
        TaskExecution.objects.create(task=task, status="success", trigger="manual", return_code=0)
    return task


def ensure_known_calendar_and_backfill(task):
    """A custom calendar and a backfill of the task, so their "found" answers are checked too."""
    calendar = Calendar.objects.filter(name="ops").first() or create_calendar(
        {"name": "ops", "base": "cn-workdays", "added_dates": ["2025-10-11"],
         "ranges": [{"start": "2025-12-20", "end": "2026-01-02", "label": "freeze"}]}, actor="schemathesis", via="cli")
    backfill = Backfill.objects.filter(task=task).first()
    if backfill is None:
        start = datetime(2025, 10, 1, tzinfo=dt_timezone.utc)
        backfill = start_backfill(task, start=start, end=start + timedelta(minutes=10), actor="schemathesis",
                                  via="cli")
    return calendar, backfill


KNOWN_TOKENS = {}  # hook pk -> its token, shown once when it is made


def ensure_known_hook_and_pause(task):
    """A trigger URL of the task (its token) and a pause that is on, so a real token's 202 and a real resume are
    checked too, not only the 404s of generated ones."""
    hook = task.trigger_tokens.filter(revoked_at__isnull=True, pk__in=list(KNOWN_TOKENS)).first()
    if hook is None:
        hook, token = hook_services.create_hook(task, name="schema", actor="schemathesis", via="cli")
        KNOWN_TOKENS[hook.pk] = token
    pause = Pause.objects.active().first()
    if pause is None:  # a tag is paused only when some task carries it
        Task.objects.get_or_create(task_id="schema-tagged", defaults={
            "task_name": "schema-tagged", "task_exec": "ok.py", "task_tags": ["schema"]})
        pause = pause_services.pause(tag="schema", actor="schemathesis", via="cli")
    return KNOWN_TOKENS[hook.pk], hook, pause


@pytest.fixture
def in_process_requests():
    """As Django's test client does: a request must not close the test's database connection (its transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def no_connection_leaves_this_machine(monkeypatch):
    """Generated channels may name public hosts and be sent a test message: no connection is made at all."""
    import socket

    from tasks_app import outbound

    def refuse(*args, **kwargs):
        raise OSError("no connection is made from the schema's test")

    monkeypatch.setattr(outbound, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def api_schema(db, keys, in_process_requests, settings):
    # Thousands of requests with one key: its rate limit would answer 429 to every operation after the first
    # few dozen, and those would be the only answers checked (the limits have tests of their own).
    settings.API_THROTTLE_KEY = settings.API_THROTTLE_ANON = settings.API_THROTTLE_HOOK = None
    ensure_known_task()
    app = get_wsgi_application()
    return schemathesis.openapi.from_wsgi("/api/schema/", app, config=CONFIG,
                                          headers={"Authorization": f"Bearer {keys['admin']}"})


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hsettings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
           suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_its_schema_says(case, keys, settings):
    task = ensure_known_task()
    params = case.path_parameters or {}
    # Half of the valid generated ids are swapped for real ones, so "found" answers are checked, not only 404s.
    positive = case.meta is None or case.meta.generation.mode.name == "POSITIVE"
    if positive and "task_id" in params and hash(str(params["task_id"])) % 2 == 0:
        params["task_id"] = task.task_id
        if "execution_id" in params:
            params["execution_id"] = task.executions.values_list("execution_id", flat=True).first()
    calendar, backfill = ensure_known_calendar_and_backfill(task)
    if positive and "calendar_name" in params and hash(str(params["calendar_name"])) % 2 == 0:
        params["calendar_name"] = calendar.name
    if positive and case.path.startswith("/api/backfills/") and "id" in params and hash(str(params["id"])) % 2 == 0:
        params["id"] = backfill.pk
    token, hook, pause = ensure_known_hook_and_pause(task)
    # Not hash(): str hashes change with every process, and the generated tokens are few ("0" again and again).
    if positive and "token" in params and sum(map(ord, str(params["token"]))) % 2 == 0:
        params["token"] = token
    if positive and "hook_id" in params and hash(str(params["hook_id"])) % 2 == 0:
        params["task_id"], params["hook_id"] = task.task_id, hook.pk
    if positive and "pause_id" in params and hash(str(params["pause_id"])) % 2 == 0:
        params["pause_id"] = pause.pk
    case.call_and_validate(headers={"Authorization": f"Bearer {keys['admin']}"}, checks=CHECKS)
