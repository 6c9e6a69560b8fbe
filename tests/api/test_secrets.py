"""Secrets through the API: set as {"secret": "value"}, stored sealed (database row, conf/tasks.json, backups),
shown to every role only as set with a time, kept by a GET -> PUT round trip, replaced and removed; webhooks
shown as scheme and host; the export; the length limits, each refusal naming the field."""
import pytest

from tasks_app.models import Task
from tasks_app.secrets import keys as secret_keys
from tests.secrets.helpers import assert_sealed, conf_texts, raw_row

from .conftest import simple_task

pytestmark = pytest.mark.django_db
PASSWORD = "pa55-w0rd-of-the-db"
HOOK = "https://hooks.example.com/services/T000/B000/XXXXSECRETXXXX"


@pytest.fixture
def created(client_as, django_capture_on_commit_callbacks, monkeypatch):
    # The webhook's host resolves to a public address without asking DNS.
    monkeypatch.setattr("tasks_app.outbound.resolve", lambda host, port: ["93.184.216.34"], raising=False)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_as("operator").post("/api/tasks", simple_task(
            "db-job", task_env={"PLAIN": "visible", "DB_PASSWORD": {"secret": PASSWORD}},
            task_notify={"on_failure": True, "webhook": HOOK}), format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()


def test_a_secret_set_through_the_api_is_stored_sealed_everywhere(created, django_capture_on_commit_callbacks,
                                                                 client_as):
    assert_sealed(raw_row("db-job"), PASSWORD, "XXXXSECRETXXXX")
    with django_capture_on_commit_callbacks(execute=True):  # a second change makes a backup of the first file
        client_as("operator").patch("/api/tasks/db-job", {"task_name": "renamed"}, format="json")
    texts = conf_texts()
    assert "tasks.json" in texts and len(texts) >= 2
    for text in texts.values():
        assert_sealed(text, PASSWORD, "XXXXSECRETXXXX")
    stored = Task.objects.get(task_id="db-job")
    assert secret_keys.open_secret(stored.task_env["DB_PASSWORD"]) == PASSWORD


@pytest.mark.parametrize("role", ["viewer", "operator", "admin", "superuser"])
def test_no_role_ever_gets_a_secret_back(created, client_as, role):
    client = client_as(role)
    for url in ("/api/tasks/db-job", "/api/tasks", "/api/export", "/api/export?omit_secrets=true"):
        text = client.get(url).content.decode()
        assert PASSWORD not in text and "XXXXSECRETXXXX" not in text, url
    shown = client.get("/api/tasks/db-job").json()
    assert shown["task_env"]["PLAIN"] == "visible"
    assert shown["task_env"]["DB_PASSWORD"]["secret"] is True
    assert shown["task_env"]["DB_PASSWORD"]["changed_at"].endswith("Z")
    assert shown["task_notify"]["webhook"] == "https://hooks.example.com/..."


def test_the_export_is_sealed_for_an_admin_and_names_only_for_the_others(created, client_as):
    sealed = client_as("admin").get("/api/export").json()["tasks"][0]
    assert set(sealed["task_env"]["DB_PASSWORD"]) == {"encrypted"}
    for role in ("viewer", "operator"):
        named = client_as(role).get("/api/export").json()["tasks"][0]
        assert named["task_env"]["DB_PASSWORD"] == {"secret": True}
        assert named["task_notify"]["webhook"] == {"secret": True}
    assert client_as("admin").get("/api/export?omit_secrets=true").json()["tasks"][0]["task_env"][
        "DB_PASSWORD"] == {"secret": True}


def test_a_get_put_round_trip_keeps_the_secret_and_the_webhook(created, client_as):
    client = client_as("operator")
    before = Task.objects.get(task_id="db-job")
    shown = client.get("/api/tasks/db-job").json()
    answer = client.put("/api/tasks/db-job", {**shown, "task_name": "renamed"}, format="json")
    assert answer.status_code == 200, answer.json()
    after = Task.objects.get(task_id="db-job")
    assert after.task_name == "renamed"
    assert after.task_env == before.task_env  # the same token: not even sealed anew
    assert after.task_notify == before.task_notify
    assert answer.json()["task_env"]["DB_PASSWORD"] == shown["task_env"]["DB_PASSWORD"]


def test_an_operator_replaces_and_removes_a_secret(created, client_as):
    client = client_as("operator")
    answer = client.patch("/api/tasks/db-job", {"task_env": {"PLAIN": "visible", "DB_PASSWORD": {"secret": "new"}}},
                          format="json")
    assert answer.status_code == 200
    assert secret_keys.open_secret(Task.objects.get(task_id="db-job").task_env["DB_PASSWORD"]) == "new"
    answer = client.patch("/api/tasks/db-job", {"task_env": {"PLAIN": "visible"}}, format="json")
    assert answer.status_code == 200
    assert Task.objects.get(task_id="db-job").task_env == {"PLAIN": "visible"}


def test_keeping_a_secret_the_task_does_not_have_is_refused_naming_the_key(client_as):
    answer = client_as("operator").post("/api/tasks", simple_task(
        "new-job", task_env={"TOKEN": {"secret": True, "changed_at": "2025-01-01T00:00:00Z"}}), format="json")
    assert answer.status_code == 400
    assert 'task_env value of "TOKEN" keeps a stored secret, but this task has no secret named "TOKEN"' in \
        " ".join(answer.json()["task_env"])


def test_a_token_that_no_key_opens_is_refused_without_showing_it(client_as):
    from cryptography.fernet import Fernet

    foreign = Fernet(Fernet.generate_key()).encrypt(b"x").decode()
    answer = client_as("operator").post("/api/tasks", simple_task("new-job", task_env={"T": {"encrypted": foreign}}),
                                        format="json")
    assert answer.status_code == 400
    message = " ".join(answer.json()["task_env"])
    assert 'task_env value of "T" is refused: it cannot be decrypted with the secrets keys' in message
    assert foreign not in message


@pytest.mark.parametrize("fields, field, fragment", [
    ({"task_name": "n" * 201}, "task_name", "task_name is 201 characters long; at most 200 are allowed"),
    ({"task_desc": "d" * 10_001}, "task_desc", "task_desc is 10001 characters long; at most 10000 are allowed"),
    ({"task_env": {"BIG": "v" * (32 * 1024 + 1)}}, "task_env",
     'task_env value of "BIG" is 32769 bytes long; at most 32768 (32 KiB) are allowed'),
    ({"task_env": {"BIG": {"secret": "v" * (32 * 1024 + 1)}}}, "task_env", 'task_env value of "BIG" is 32769 bytes'),
    ({"task_env": {f"K{i}": "v" for i in range(201)}}, "task_env", "task_env has 201 entries; at most 200 are allowed"),
])
def test_each_length_limit_is_refused_naming_the_field(client_as, fields, field, fragment):
    answer = client_as("operator").post("/api/tasks", simple_task("big", **fields), format="json")
    assert answer.status_code == 400
    assert fragment in " ".join(answer.json()[field])
    assert not Task.objects.filter(task_id="big").exists()


def test_the_limits_themselves_are_accepted(client_as):
    answer = client_as("operator").post("/api/tasks", simple_task(
        "edge", task_name="n" * 200, task_desc="d" * 10_000,
        task_env={**{f"K{i}": "v" for i in range(199)}, "BIG": "é" * (16 * 1024)}), format="json")
    assert answer.status_code == 201, answer.json()
