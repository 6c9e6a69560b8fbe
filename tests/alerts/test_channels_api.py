"""/api/channels: operators define channels (the URL stored encrypted, shown as scheme and host to every role),
viewers read them, a test message answers with the exact error; every change is audited and bad input is a 400
naming the field."""
import pytest
from auditlog.models import LogEntry

from tasks_app.models import Channel
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db

SECRET_URL = "dingtalk://S1gningS3cret@acc3ssT0kenXYZ/"


@pytest.fixture
def operator_api(client):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(make_user("olga", "operator"))
    return api


@pytest.fixture
def viewer_api():
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(make_user("vic", "viewer"))
    return api


def test_an_operator_creates_a_channel_and_every_role_sees_only_scheme_and_host(operator_api, viewer_api):
    made = operator_api.post("/api/channels", {"name": "ops-dingtalk", "url": SECRET_URL, "is_default": True},
                             format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["url"] == "dingtalk://oapi.dingtalk.com" and made.json()["kind"] == "dingtalk"

    seen = viewer_api.get("/api/channels").json()["results"]
    assert [(c["name"], c["url"], c["is_default"]) for c in seen] == [
        ("ops-dingtalk", "dingtalk://oapi.dingtalk.com", True)]
    stored = Channel.objects.get(name="ops-dingtalk").url
    assert "S1gningS3cret" not in str(stored) and "acc3ssT0kenXYZ" not in str(stored)
    entry = LogEntry.objects.get(additional_data__event="channel.created")
    assert entry.changes["url"] == [None, "dingtalk://oapi.dingtalk.com"] and "acc3ss" not in str(entry.changes)

    assert viewer_api.post("/api/channels", {"name": "x", "url": SECRET_URL}, format="json").status_code == 403


def test_sending_the_shown_url_back_keeps_the_stored_one(operator_api):
    operator_api.post("/api/channels", {"name": "ops", "url": SECRET_URL}, format="json")
    token = Channel.objects.get(name="ops").url["encrypted"]

    changed = operator_api.patch("/api/channels/ops", {"url": "dingtalk://oapi.dingtalk.com", "description": "on call"},
                                 format="json")

    assert changed.status_code == 200 and changed.json()["description"] == "on call"
    assert Channel.objects.get(name="ops").url["encrypted"] == token


@pytest.mark.parametrize("body, field, fragment", [
    ({"name": "bad name!", "url": SECRET_URL}, "name", '"bad name!" is not valid'),
    ({"name": "ops", "url": "nosuch://x"}, "url", "does not understand this nosuch:// URL"),
    ({"name": "ops", "url": "syslog://"}, "url", "acts on the scheduler's own machine"),
    ({"name": "ops", "url": SECRET_URL, "is_default": "yes"}, "is_default", 'got "yes"'),
    ({"name": "ops", "url": SECRET_URL, "colour": "red"}, "non_field_errors", '"colour"'),
])
def test_bad_input_is_a_400_naming_the_field_and_never_the_url(operator_api, body, field, fragment):
    answer = operator_api.post("/api/channels", body, format="json")
    assert answer.status_code == 400
    assert fragment in " ".join(answer.json()[field])


def test_a_test_message_answers_with_the_exact_error(operator_api, stand_in, settings):
    operator_api.post("/api/channels", {"name": "ops", "url": "wecombot://b0tK3yWeCom"}, format="json")

    ok = operator_api.post("/api/channels/ops/test").json()
    assert ok == {"sent": True, "error": "", "target": "wecombot://qyapi.weixin.qq.com"}
    assert "test message" in stand_in.received[0].json()["text"]["content"]

    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = []
    refused = operator_api.post("/api/channels/ops/test").json()
    assert refused["sent"] is False
    assert refused["error"].startswith("refused: ") and "127.0.0.1 is not a public address" in refused["error"]
    assert LogEntry.objects.filter(additional_data__event="channel.tested").count() == 2


def test_a_channel_named_by_a_task_cannot_be_deleted(operator_api, admin_user):
    from tests.api.conftest import simple_task
    from tasks_app.services.tasks import create_task

    operator_api.post("/api/channels", {"name": "ops", "url": SECRET_URL}, format="json")
    create_task({**simple_task("nightly"), "task_channels": ["ops"]}, actor="olga", via="api")

    refused = operator_api.delete("/api/channels/ops")

    assert refused.status_code == 400 and "tasks nightly name it" in refused.json()["name"][0]
    assert Channel.objects.filter(name="ops").exists()


def test_a_task_naming_an_unknown_channel_is_refused(operator_api):
    from tests.api.conftest import simple_task

    answer = operator_api.post("/api/tasks", {**simple_task("nightly"), "task_channels": ["nope"]}, format="json")

    assert answer.status_code == 400
    assert '"nope", which is not a channel' in answer.json()["task_channels"][0]


def test_a_key_rotation_seals_the_channels_urls_anew(operator_api, settings):
    from tasks_app.secrets import keys
    from tasks_app.services.rotation import reseal_everything, still_needing_older_keys

    operator_api.post("/api/channels", {"name": "ops", "url": SECRET_URL}, format="json")
    old_token = Channel.objects.get(name="ops").url["encrypted"]
    keys.write_key_file([keys.generate_key(), *keys.current_keys()])
    assert "channel ops" in still_needing_older_keys()

    reseal_everything(actor="cli")

    stored = Channel.objects.get(name="ops").url
    assert stored["encrypted"] != old_token and keys.open_secret(stored) == SECRET_URL
    assert stored["shown"] == "dingtalk://oapi.dingtalk.com" and "channel ops" not in still_needing_older_keys()
