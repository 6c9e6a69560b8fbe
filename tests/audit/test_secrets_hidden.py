"""No role reads a secret value out of the audit trail: a webhook URL shows as its scheme and host, a secret
task_env value (not plain text: its stored form) as ***, and a secret that changed says "(changed)" instead — in
/audit, the versions page, the API and the admin."""
import pytest

from tasks_app.audit import events, record, redact, versions
from tasks_app.definition.fields import task_to_dict
from tasks_app.services import tasks as services

from .conftest import WEBHOOK, last

OTHER_WEBHOOK = "https://hooks.example.com/services/T000/B000/n3w-t0ken"
SECRET_ENV = {"DB_PASSWORD": {"encrypted": "gAAAAABsecret-ciphertext"}, "PLAIN": "shown"}
NEW_SECRET_ENV = {"DB_PASSWORD": {"encrypted": "gAAAAABother-ciphertext"}, "PLAIN": "shown"}


@pytest.fixture
def secret_task(make_task):
    """Version 1 with a webhook, 2 with another webhook token (through the services), 3 and 4 with a secret
    task_env value in its stored form, as the secrets' module will write them (its loader is not here yet)."""
    task = make_task(task_notify={"on_failure": True, "webhook": WEBHOOK})
    services.update_task(task, {"task_notify": {"on_failure": True, "webhook": OTHER_WEBHOOK},
                                "task_retry": 1}, actor="otto", via="api", partial=True)
    before = task_to_dict(task)
    for env in (SECRET_ENV, NEW_SECRET_ENV):
        after = {**before, "task_env": env}
        record.task_event(events.TASK_UPDATED, task, before=before, after=after, actor="otto", via="api")
        before = after
    return task


SECRETS = ("s3cr3t-t0ken", "n3w-t0ken", "/services/", "gAAAAAB", "ciphertext")


def assert_no_secret(text):
    for secret in SECRETS:
        assert secret not in text, secret


def test_a_changed_webhook_shows_its_host_and_a_changed_secret_that_it_changed(secret_task):
    changed = last(task="audited", action=events.TASK_UPDATED)
    assert changed["changes"] == {"task_env": [{"DB_PASSWORD": "***", "PLAIN": "shown"},
                                               {"DB_PASSWORD": "*** (changed)", "PLAIN": "shown"}]}
    webhook = versions.version_entry("audited", 2).changes["task_notify"]
    assert webhook[0]["webhook"] == "https://hooks.example.com/..."
    assert webhook[1]["webhook"] == "https://hooks.example.com/... (changed)"


@pytest.mark.parametrize("path", ["/audit", "/audit?task=audited", "/tasks/audited/versions",
                                  "/tasks/audited/versions?a=1&b=4", "/tasks/audited/versions?a=2&b=3",
                                  "/admin/auditlog/logentry/"])
def test_viewers_see_no_secret_on_the_pages_and_in_the_admin(page_as, secret_task, path):
    answer = page_as("viewer").get(path)
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "hooks.example.com" in html or path.startswith("/admin")
    assert_no_secret(html)


def test_viewers_see_no_secret_in_an_entrys_admin_page(page_as, secret_task):
    from auditlog.models import LogEntry

    for entry in LogEntry.objects.all():
        answer = page_as("viewer").get(f"/admin/auditlog/logentry/{entry.pk}/change/")
        assert answer.status_code == 200
        assert_no_secret(answer.content.decode())


@pytest.mark.parametrize("path", ["/api/audit", "/api/audit?task=audited", "/api/tasks/audited/versions"])
def test_viewers_see_no_secret_in_the_api(api_as, secret_task, path):
    answer = api_as("viewer").get(path)
    assert answer.status_code == 200
    assert_no_secret(answer.content.decode())
    assert "***" in answer.content.decode() or path.endswith("audit")


def test_the_versions_hold_the_stored_form_so_a_restore_brings_the_secret_back(secret_task):
    assert versions.version_entry("audited", 3).serialized_data["task_env"] == SECRET_ENV
    assert versions.visible_config(versions.version_entry("audited", 3))["task_env"] == {
        "DB_PASSWORD": "***", "PLAIN": "shown"}


@pytest.mark.parametrize("before, after, shown", [
    ({"A": "1"}, {"A": "2"}, ({"A": "1"}, {"A": "2"})),
    ({"S": {"encrypted": "x"}}, {"S": {"encrypted": "y"}}, ({"S": "***"}, {"S": "*** (changed)"})),
    ({"S": {"encrypted": "x"}}, {"S": {"encrypted": "x"}, "B": "b"}, ({"S": "***"}, {"S": "***", "B": "b"})),
    ({}, {"S": {"encrypted": "x"}}, ({}, {"S": "***"})),
])
def test_shown_hides_secret_env_values_and_marks_those_that_changed(before, after, shown):
    assert redact.shown("task_env", before, after) == shown


@pytest.mark.parametrize("url, shown", [
    ("https://user:pw@hooks.example.com:8443/t/secret?token=1", "https://hooks.example.com:8443/..."),
    ("http://[2001:db8::1]/x", "http://[2001:db8::1]/..."),
    ("https://hooks.example.com", "https://hooks.example.com"),
    ("not a url", "***"),
])
def test_a_webhook_shows_only_its_scheme_and_host(url, shown):
    assert redact.visible("task_notify", {"webhook": url})["webhook"] == shown
