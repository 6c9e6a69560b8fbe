"""The admin's channels: an operator adds one (the URL shown as scheme and host afterwards), a viewer only looks,
and the "send a test message" action tells the exact error."""
import pytest

from tasks_app.models import Channel
from tests.web.conftest import make_user

from .helpers import json_channel

pytestmark = pytest.mark.django_db


def test_an_operator_adds_a_channel_in_the_admin_and_sees_only_scheme_and_host(client):
    client.force_login(make_user("otto", "operator"))

    added = client.post("/admin/tasks_app/channel/add/", {"name": "ops", "url": "dingtalk://s3cret@t0kenABC/",
                                                          "description": ""})

    assert added.status_code == 302, added.content.decode()[:2000]
    channel = Channel.objects.get(name="ops")
    page = client.get(f"/admin/tasks_app/channel/{channel.pk}/change/").content.decode()
    assert "dingtalk://oapi.dingtalk.com" in page and "t0kenABC" not in page and "s3cret" not in page
    bad = client.post("/admin/tasks_app/channel/add/", {"name": "x", "url": "nosuch://y", "description": ""})
    assert bad.status_code == 200 and "does not understand this nosuch:// URL" in bad.content.decode()


def test_a_viewer_sees_channels_in_the_admin_but_cannot_add_one(client):
    json_channel("ops")
    client.force_login(make_user("vera", "viewer"))

    assert client.get("/admin/tasks_app/channel/").status_code == 200
    assert client.post("/admin/tasks_app/channel/add/", {"name": "x", "url": "feishu://t"}).status_code == 403


def test_the_test_action_tells_the_exact_error(client, stand_in, settings):
    channel = json_channel("ops")
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = []
    client.force_login(make_user("otto", "operator"))

    page = client.post("/admin/tasks_app/channel/", {"action": "send_test_message", "_selected_action": [channel.pk]},
                       follow=True).content.decode()

    assert "was not sent: refused: 127.0.0.1" in page
