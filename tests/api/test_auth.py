"""Who may do what: API keys and sessions, 401 without credentials, 403 by role, and the key command."""
import io
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from tasks_app.models import ApiKey, Task
from tasks_app.models.apikey import hash_key
from tasks_app.services.tasks import create_task

from .conftest import make_user, simple_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(db):
    return create_task(simple_task("t1"), actor="test", via="cli")


def test_a_request_without_credentials_gets_401_with_a_bearer_challenge_not_a_redirect():
    response = APIClient().get("/api/tasks")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response["Content-Type"] == "application/json"
    assert "credentials" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer tsk_not-a-real-key", "Bearer", "Bearer two words"])
def test_an_unknown_or_malformed_key_gets_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/tasks")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_a_revoked_key_is_refused(keys):
    ApiKey.objects.get(key_hash=hash_key(keys["admin"])).revoke()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys['admin']}")
    response = client.get("/api/tasks")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_key_of_an_inactive_user_is_refused(keys):
    User.objects.filter(username="admin-user").update(is_active=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys['admin']}")
    assert client.get("/api/tasks").status_code == 401


@pytest.mark.parametrize("change, refusal", [
    (lambda key: key.revoke(), "revoked"),
    (lambda key: ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now()), "expired"),
    (lambda key: User.objects.filter(pk=key.user_id).update(is_active=False), "Invalid API key"),
    (lambda key: key.user.set_password("changed") or key.user.save(), "password was changed"),
])
def test_a_key_that_worked_is_refused_at_its_next_request_once_revoked_expired_or_its_user_changed(
        keys, change, refusal):
    # The key's statement is compiled once per connection (api/lookups.py): the rows are still read each time.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys['admin']}")
    assert client.get("/api/tasks").status_code == 200
    change(ApiKey.objects.select_related("user").get(key_hash=hash_key(keys["admin"])))
    response = client.get("/api/tasks")
    assert response.status_code == 401 and refusal in response.json()["detail"]


def test_the_compiled_key_lookup_reads_what_the_orm_reads(keys):
    from tasks_app.api.lookups import key_with_user

    def fields(obj):
        return {name: value for name, value in vars(obj).items() if name != "_state"}

    for plain in keys.values():
        expected = ApiKey.objects.select_related("user").get(key_hash=hash_key(plain))
        found = key_with_user(hash_key(plain))
        assert fields(found) == fields(expected) and fields(found.user) == fields(expected.user)
        assert found.created_at.tzinfo is not None and found._state.adding is False
    assert key_with_user(hash_key("tsk_unknown")) is None


def test_a_viewer_reads_but_gets_403_on_execute_stop_delete_and_create(client_as, task):
    viewer = client_as("viewer")
    assert viewer.get("/api/tasks").status_code == 200
    assert viewer.get("/api/tasks/t1").status_code == 200
    assert viewer.get("/api/tasks/t1/logs").status_code == 200
    for method, url in [("post", "/api/tasks/t1/execute"), ("post", "/api/tasks/t1/stop"),
                        ("delete", "/api/tasks/t1"), ("patch", "/api/tasks/t1")]:
        response = getattr(viewer, method)(url, {"task_enabled": False}, format="json")
        assert response.status_code == 403, (method, url)
        assert "operator" in response.json()["detail"] or "admin" in response.json()["detail"]
    assert viewer.post("/api/tasks", simple_task("t2"), format="json").status_code == 403
    assert Task.objects.filter(task_id="t1").exists()


def test_an_operator_edits_but_gets_403_on_delete_import_and_backups(client_as, task):
    operator = client_as("operator")
    assert operator.patch("/api/tasks/t1", {"task_enabled": False}, format="json").status_code == 200
    response = operator.delete("/api/tasks/t1")
    assert response.status_code == 403
    assert response.json()["detail"] == "This needs the admin role; you have the operator role."
    assert operator.post("/api/import", {"tasks": []}, format="json").status_code == 403
    assert operator.get("/api/backups").status_code == 403
    assert Task.objects.filter(task_id="t1").exists()


def test_an_admin_and_a_superuser_may_delete(client_as, db):
    create_task(simple_task("a"), actor="test", via="cli")
    create_task(simple_task("b"), actor="test", via="cli")
    assert client_as("admin").delete("/api/tasks/a").status_code == 204
    assert client_as("superuser").delete("/api/tasks/b").status_code == 204
    assert not Task.objects.exists()


def test_a_user_with_no_role_gets_403_on_everything(client_as, task):
    nobody = client_as("none")
    for url in ["/api/tasks", "/api/tasks/t1", "/api/tasks/t1/status", "/api/cron/preview?expr=*+*+*+*+*",
                "/api/export", "/api/schema/"]:
        response = nobody.get(url)
        assert response.status_code == 403, url
        assert "no role" in response.json()["detail"]


def test_a_session_works_for_reads_and_needs_the_csrf_token_for_writes(keys, task):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="operator-user", password="pw-operator-user")
    assert client.get("/api/tasks/t1").status_code == 200
    refused = client.patch("/api/tasks/t1", {"task_enabled": False}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    page = client.get("/api/tasks/t1", HTTP_ACCEPT="text/html")  # the browsable API sets the cookie
    token = page.cookies["csrftoken"].value
    accepted = client.patch("/api/tasks/t1", {"task_enabled": False}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200 and accepted.json()["task_enabled"] is False


def test_last_used_is_written_at_most_once_a_minute(keys, task):
    key = ApiKey.objects.get(key_hash=hash_key(keys["viewer"]))
    assert key.last_used_at is None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys['viewer']}")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.get("/api/tasks")
        key.refresh_from_db()
        assert key.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client.get("/api/tasks")
        key.refresh_from_db()
        assert key.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        client.get("/api/tasks")
        key.refresh_from_db()
        assert key.last_used_at == start + timedelta(seconds=61)


def test_create_api_key_prints_the_key_once_as_its_last_line_and_stores_only_a_hash(db):
    user = make_user("ops", "viewer")
    out = io.StringIO()
    call_command("create_api_key", "--user", "ops", "--name", "cron job", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert key.startswith("tsk_") and len(key) > 30
    stored = ApiKey.objects.get(user=user)
    assert stored.name == "cron job" and stored.key_hash == hash_key(key)
    assert key not in {stored.prefix, stored.key_hash, stored.name}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/tasks").status_code == 200


def test_create_api_key_names_an_unknown_user(db):
    with pytest.raises(CommandError, match="--user 'ghost': no such user"):
        call_command("create_api_key", "--user", "ghost")


# The one operation without credentials: a trigger URL, whose token is its credential (tests/api/test_hooks_api.py).
PUBLIC_PATHS = {"/api/hooks/{token}"}


def test_the_only_operation_open_to_anonymous_requests_is_a_trigger_url():
    from tasks_app.api.schema import ApiSchemaGenerator

    schema = ApiSchemaGenerator().get_schema(public=True)
    assert {path for path, item in schema["paths"].items() if any(not op.get("security") for op in item.values()
                                                                   if isinstance(op, dict))} == PUBLIC_PATHS


def _every_operation():
    """(method, path) of every operation the schema publishes, plus the schema and its documentation page."""
    from drf_spectacular.generators import SchemaGenerator

    from tasks_app.api.schema import ApiSchemaGenerator

    assert issubclass(ApiSchemaGenerator, SchemaGenerator)
    schema = ApiSchemaGenerator().get_schema(public=True)
    samples = {"{task_id}": "t1", "{execution_id}": "1", "{id}": "1", "{name}": "tasks-20240101T000000.000000Z.json",
               "{number}": "1", "{channel_name}": "ops", "{calendar_name}": "ops", "{hook_id}": "1",
               "{pause_id}": "1"}
    found = [("get", "/api/schema/"), ("get", "/api/docs/")]
    for path, item in schema["paths"].items():
        if path in PUBLIC_PATHS:
            continue
        for key, value in samples.items():
            path = path.replace(key, value)
        found += [(method, path) for method in item if method in ("get", "post", "put", "patch", "delete")]
    return found


@pytest.mark.parametrize("method, path", _every_operation())
def test_every_endpoint_answers_an_anonymous_request_with_a_json_401(task, method, path):
    response = getattr(APIClient(), method)(path)
    assert response.status_code == 401, (method, path)
    assert response["Content-Type"].split(";")[0] in ("application/json", "application/vnd.oai.openapi+json")
    assert "credentials" in response.json()["detail"]


def test_the_compiled_task_lookup_reads_what_the_orm_reads_with_and_without_a_status_row(task):
    from tasks_app.api.lookups import task_with_status
    from tasks_app.models import TaskStatus

    def fields(obj):
        return {name: value for name, value in vars(obj).items() if name != "_state"}

    expected = Task.objects.select_related("status").get(task_id="t1")
    found = task_with_status("t1")
    assert fields(found) == fields(expected) and fields(found.status) == fields(expected.status)
    assert isinstance(found.task_env, dict) and found.created_at.tzinfo is not None
    TaskStatus.objects.filter(task=task).delete()
    assert task_with_status("t1").current_status is None and task_with_status("nope") is None
