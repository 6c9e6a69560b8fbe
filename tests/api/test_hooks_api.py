"""Trigger URLs through the API: operators create (the token shown once), list and revoke them; POST
/api/hooks/<token> starts that task with no other credentials, and nothing else; revoked, expired and unknown
tokens get the same 404; a token is not an API key anywhere; starts are rate-limited per token."""
import logging
from datetime import timedelta

import pytest
import time_machine
from auditlog.models import LogEntry
from django.utils import timezone
from rest_framework.test import APIClient

from tasks_app.models import ExecutionStatus, Task, TaskExecution, Trigger, TriggerToken
from tasks_app.services import pauses
from tasks_app.services.tasks import create_task

from .conftest import simple_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(db):
    return create_task(simple_task("job"), actor="t", via="cli")


@pytest.fixture
def api_log(caplog):
    """The "APIInterface" lines (that logger does not propagate to the root, so attach caplog to it)."""
    logger = logging.getLogger("APIInterface")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def make_hook(client, task_id="job", **body):
    response = client.post(f"/api/tasks/{task_id}/hooks", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def fire(token, client=None, **extra):
    return (client or APIClient()).post(f"/api/hooks/{token}", format="json", **extra)


def test_an_operator_creates_a_trigger_url_whose_token_is_shown_once(operator_client, task):
    made = make_hook(operator_client, name="from CI")
    token = made["token"]
    assert token.startswith("hk_") and made["url"].endswith(f"/api/hooks/{token}")
    assert made["hook"]["prefix"] == token[:10] and made["hook"]["state"] == "active"
    assert made["hook"]["created_by"] == "operator-user"

    listed = operator_client.get("/api/tasks/job/hooks")
    assert listed.status_code == 200
    assert [hook["name"] for hook in listed.json()] == ["from CI"]
    assert token not in listed.content.decode()
    assert token not in str(TriggerToken.objects.values_list().get())  # only its hash is stored

    entry = LogEntry.objects.get(additional_data__event="hook.created")
    assert entry.additional_data["actor"] == "operator-user" and entry.additional_data["details"] == {"task": "job"}
    assert token not in str(entry.changes) and entry.changes["prefix"] == [None, token[:10]]


def test_a_viewer_may_neither_list_nor_create_trigger_urls(viewer_client, task):
    assert viewer_client.get("/api/tasks/job/hooks").status_code == 403
    assert viewer_client.post("/api/tasks/job/hooks", {}, format="json").status_code == 403
    assert not TriggerToken.objects.exists()


def test_bad_input_names_the_field_and_the_value(operator_client, task):
    response = operator_client.post("/api/tasks/job/hooks", {"name": "x" * 101}, format="json")
    assert response.status_code == 400 and "name" in response.json()
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    response = operator_client.post("/api/tasks/job/hooks", {"expires_at": past}, format="json")
    assert response.status_code == 400
    assert "has already passed" in response.json()["expires_at"][0]
    response = operator_client.post("/api/tasks/job/hooks", {"expires_at": "soon"}, format="json")
    assert response.status_code == 400 and "expires_at" in response.json()


def test_the_token_alone_starts_its_task_with_the_trigger_hook(operator_client, task):
    token = make_hook(operator_client)["token"]
    # No session, no key, and CSRF checks on: the token is the only credential.
    response = fire(token, APIClient(enforce_csrf_checks=True))
    assert response.status_code == 202
    body = response.json()
    execution = TaskExecution.objects.get(execution_id=body["execution_id"])
    assert body == {"task_id": "job", "execution_id": execution.execution_id, "status": "queued",
                    "url": f"/api/tasks/job/executions/{execution.execution_id}"}
    assert execution.trigger == Trigger.HOOK and execution.status == ExecutionStatus.QUEUED
    assert execution.requested_by == f"hook:{token[:10]}"
    hook = TriggerToken.objects.get()
    assert hook.last_used_at is not None
    entry = LogEntry.objects.get(additional_data__event="run.requested")
    assert entry.additional_data["via"] == "hook"
    assert entry.additional_data["details"] == {"execution": execution.execution_id, "hook": hook.pk}


def test_a_disabled_tasks_trigger_url_answers_409_and_queues_nothing(operator_client, task):
    token = make_hook(operator_client)["token"]
    assert operator_client.patch("/api/tasks/job", {"task_enabled": False}, format="json").status_code == 200

    response = fire(token)
    assert response.status_code == 409
    assert response.json() == {"detail": "Task job is disabled: enable it to start it by this URL."}
    assert not TaskExecution.objects.exists() and TriggerToken.objects.get().last_used_at is None

    assert operator_client.patch("/api/tasks/job", {"task_enabled": True}, format="json").status_code == 200
    assert fire(token).status_code == 202


def test_a_paused_tasks_trigger_url_answers_409_naming_the_pause_queues_nothing_and_logs_why(
        operator_client, task, api_log):
    token = make_hook(operator_client)["token"]
    assert operator_client.patch("/api/tasks/job", {"task_tags": ["billing"]}, format="json").status_code == 200
    made = pauses.pause(tag="billing", reason="db upgrade", until=timezone.now() + timedelta(hours=1),
                        actor="otto", via="api")

    response = fire(token)
    assert response.status_code == 409
    body = response.json()
    assert body["task_id"] == "job" and body["pause"] == {"id": made.pk, "tag": "billing",
                                                          "until": made.until.isoformat()}
    assert body["detail"] == (f"Task job is paused (tag billing) until {made.until.strftime('%Y-%m-%d %H:%M UTC')}: "
                              f"it starts by this URL again once the pause is over.")
    assert "otto" not in response.content.decode() and "db upgrade" not in response.content.decode()
    assert not TaskExecution.objects.exists() and TriggerToken.objects.get().last_used_at is None
    # What logs/sys.log gets: the operator's trace of the refusal, as for a disabled task or a revoked token.
    assert [r.levelname for r in api_log.records if "of task job refused: paused (tag billing) by otto: db upgrade"
            in r.getMessage()] == ["WARNING"]

    pauses.resume(made.pk, actor="otto", via="api")
    everything = pauses.pause(actor="otto", via="api")  # a pause of every task holds it back too
    assert fire(token).json()["pause"]["id"] == everything.pk
    pauses.resume(everything.pk, actor="otto", via="api")
    assert fire(token).status_code == 202


def test_a_pause_of_another_tag_or_one_over_does_not_hold_back_a_trigger_url(operator_client, task, time_machine):
    token = make_hook(operator_client)["token"]
    Task.objects.filter(task_id="job").update(task_tags=["nightly"])
    other = Task.objects.create(task_id="other", task_name="other", task_exec="ok.py", task_tags=["billing"])
    pauses.pause(tag="billing", actor="otto", via="api")
    pauses.pause(tag="nightly", until=timezone.now() + timedelta(minutes=5), actor="otto", via="api")
    assert fire(token).status_code == 409
    time_machine.move_to(timezone.now() + timedelta(minutes=6))
    assert fire(token).status_code == 202
    assert other.task_tags == ["billing"]


def test_run_now_still_starts_a_paused_task(operator_client, task):
    pauses.pause(actor="otto", via="api")
    response = operator_client.post("/api/tasks/job/execute", {}, format="json")
    assert response.status_code == 202, response.json()
    assert TaskExecution.objects.get().trigger == Trigger.MANUAL


def test_a_revoked_an_expired_and_an_unknown_token_get_the_same_404(operator_client, task):
    revoked = make_hook(operator_client)
    answer = operator_client.post(f"/api/tasks/job/hooks/{revoked['hook']['id']}/revoke")
    assert answer.status_code == 200 and answer.json()["state"] == "revoked"
    assert LogEntry.objects.filter(additional_data__event="hook.revoked").count() == 1
    expiring = make_hook(operator_client, expires_at=(timezone.now() + timedelta(hours=1)).isoformat())

    refusals = []
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        for token in (revoked["token"], expiring["token"], "hk_" + "A" * 43, "anything"):
            response = fire(token)
            refusals.append((response.status_code, response.content))
    assert refusals == [(404, b'{"detail":"No trigger URL here."}')] * 4
    assert not TaskExecution.objects.exists()


def test_a_token_is_not_an_api_key_anywhere_else(operator_client, task):
    create_task(simple_task("other"), actor="t", via="cli")
    token = make_hook(operator_client)["token"]
    as_key = APIClient()
    as_key.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    for method, path in (("get", "/api/tasks"), ("get", "/api/tasks/job"), ("post", "/api/tasks/job/execute"),
                         ("post", "/api/tasks/other/execute"), ("get", "/api/tasks/job/hooks"),
                         ("post", "/api/tasks/job/hooks")):
        response = getattr(as_key, method)(path)
        assert response.status_code == 401, (method, path)
    # Nor in the path of another endpoint, nor as a session: only /api/hooks/<token> reads it.
    assert APIClient().post(f"/api/tasks/job/execute?token={token}").status_code == 401
    assert not TaskExecution.objects.exists()


def test_a_token_starts_only_its_own_task(operator_client, task):
    create_task(simple_task("other"), actor="t", via="cli")
    token = make_hook(operator_client, task_id="other")["token"]
    assert fire(token).status_code == 202
    assert list(TaskExecution.objects.values_list("task__task_id", flat=True)) == ["other"]


def test_starts_are_rate_limited_per_token(operator_client, task, settings):
    settings.API_THROTTLE_HOOK = "2/min"
    first, second = make_hook(operator_client)["token"], make_hook(operator_client)["token"]
    assert [fire(first).status_code for _ in range(3)] == [202, 202, 429]
    assert fire(second).status_code == 202  # another token counts on its own
    assert TaskExecution.objects.count() == 3


def test_a_get_on_a_trigger_url_starts_nothing(operator_client, task):
    token = make_hook(operator_client)["token"]
    assert APIClient().get(f"/api/hooks/{token}").status_code == 405
    assert not TaskExecution.objects.exists()


def test_refused_tokens_are_bounded_per_address_and_a_good_one_still_works(operator_client, task, settings):
    settings.API_THROTTLE_ANON = "3/min"
    token = make_hook(operator_client)["token"]
    guesses = [fire(f"hk_guess{n}", APIClient(REMOTE_ADDR="203.0.113.7")).status_code for n in range(4)]
    assert guesses == [404, 404, 404, 429]
    assert fire(token, APIClient(REMOTE_ADDR="203.0.113.7")).status_code == 202


def test_no_log_line_holds_a_token(operator_client, task, settings, caplog, monkeypatch):
    import logging

    api_log = logging.getLogger("APIInterface")  # it does not propagate: caplog hears it through its handler
    api_log.addHandler(caplog.handler)
    monkeypatch.setattr(api_log, "level", logging.INFO)
    settings.API_THROTTLE_HOOK = "1/min"
    token = make_hook(operator_client)["token"]
    fire(token)
    assert fire(token).status_code == 429  # a good token, throttled: Django would log its path
    assert APIClient().post(f"/api/hooks/{token}", {"env": "x"}, format="json").status_code in (400, 429)
    fire("hk_" + "B" * 43)
    assert token not in caplog.text and "B" * 43 not in caplog.text
    api_log.removeHandler(caplog.handler)
    assert f"Trigger URL {token[:10]}… answered 429" in caplog.text


def test_a_body_too_large_for_a_trigger_url_does_not_log_its_token(operator_client, task, caplog):
    """The 413 comes before the view, from the body cap: Django's django.request line names the path, which the
    console's formatter (the root logger's, settings.LOGGING) cuts to the token's prefix, as in every line."""
    import logging

    token = make_hook(operator_client)["token"]
    response = APIClient().post(f"/api/hooks/{token}", data="x" * 2_000_000, content_type="application/json")
    assert response.status_code == 413
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    (console,) = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    logged = console.format(record)
    assert f"Request Entity Too Large: /api/hooks/{token[:10]}…" in logged
    assert token not in logged
