"""Each built-in channel kind sends through the real Apprise plugin to a stand-in server (tests/alerts/standin.py)."""
import base64
import hashlib
import hmac
import time

import pytest

from tasks_app.alerts import apprise_send
from tasks_app.alerts.apprise_send import SendError


def test_a_dingtalk_message_carries_a_signature_made_with_its_secret(stand_in):
    apprise_send.send("dingtalk://s3cr3tSigningKey@acc3ssT0ken/", "nightly failed", "exit code 3")

    (got,) = stand_in.received
    assert (got.method, got.host, got.path) == ("POST", "oapi.dingtalk.com", "/robot/send")
    assert got.query["access_token"] == ["acc3ssT0ken"]
    timestamp = got.query["timestamp"][0]
    assert abs(int(timestamp) / 1000 - time.time()) < 60
    expected = base64.b64encode(hmac.new(b"s3cr3tSigningKey", f"{timestamp}\ns3cr3tSigningKey".encode(),
                                         hashlib.sha256).digest()).decode()
    from urllib.parse import unquote
    assert unquote(got.query["sign"][0]) == expected
    assert "nightly failed" in got.json()["text"]["content"] and "exit code 3" in got.json()["text"]["content"]


@pytest.mark.parametrize("url, host, path, text_of", [
    ("wecombot://b0tK3yWeCom", "qyapi.weixin.qq.com", "/cgi-bin/webhook/send",
     lambda got: got.json()["text"]["content"]),
    ("feishu://f3ishuT0ken", "open.feishu.cn", "/open-apis/bot/v2/hook/f3ishuT0ken/",
     lambda got: got.json()["content"]["text"]),
    ("lark://l4rkT0ken", "open.larksuite.com", "/open-apis/bot/v2/hook/l4rkT0ken",
     lambda got: got.json()["content"]["text"]),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "hooks.slack.com",
     "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", lambda got: str(got.json())),
    ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord.com",
     "/api/webhooks/4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", lambda got: str(got.json())),
    ("tgram://123456789:abcdefg_hijklmnop/-100123/", "api.telegram.org",
     "/bot123456789:abcdefg_hijklmnop/sendMessage", lambda got: got.json()["text"]),
    ("ntfys://ntfy.sh/nightly-alerts", "ntfy.sh", "/", lambda got: got.json()["message"]),
    ("jsons://hooks.example.com/ops/alerts", "hooks.example.com", "/ops/alerts",
     lambda got: got.json()["message"]),
    ("workflows://prod-01.westus.logic.azure.com:443/workflow1/sig2nature/", "prod-01.westus.logic.azure.com",
     "/workflows/workflow1/triggers/manual/paths/invoke", lambda got: str(got.json())),
])
def test_each_channel_kind_reaches_its_service(stand_in, url, host, path, text_of):
    apprise_send.send(url, "nightly failed", "exit code 3")

    assert stand_in.received, "nothing was sent"
    got = stand_in.received[-1]
    assert got.host.split(":")[0] == host
    assert got.path == path
    assert "exit code 3" in text_of(got)


def test_a_send_to_a_private_address_is_refused_unless_allowed(stand_in, settings):
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = []

    with pytest.raises(SendError) as info:
        apprise_send.send("dingtalk://acc3ssT0ken/", "t", "b")

    assert "refused" in str(info.value) and "127.0.0.1 is not a public address" in str(info.value)
    assert not info.value.retryable
    assert stand_in.received == []


def test_a_redirect_is_a_failed_send_and_is_not_followed(stand_in):
    stand_in.status, stand_in.location = 302, "http://127.0.0.1:9/elsewhere"

    with pytest.raises(SendError, match="HTTP 302, a redirect") as info:
        apprise_send.send("wecombot://b0tK3yWeCom", "t", "b")

    assert len(stand_in.received) == 1 and not info.value.retryable


def test_a_server_error_may_be_retried_a_rejected_message_not_and_no_token_is_shown(stand_in):
    stand_in.status = 503
    with pytest.raises(SendError) as info:
        apprise_send.send("dingtalk://acc3ssT0ken/", "t", "b")
    assert info.value.retryable and "HTTP 503" in str(info.value)
    assert "acc3ssT0ken" not in str(info.value)

    stand_in.status = 400
    with pytest.raises(SendError) as info:
        apprise_send.send("dingtalk://acc3ssT0ken/", "t", "b")
    assert not info.value.retryable and "HTTP 400" in str(info.value)


def test_a_url_apprise_does_not_understand_or_that_acts_on_this_machine_is_refused():
    with pytest.raises(apprise_send.ChannelUrlError, match="does not understand this nosuch:// URL"):
        apprise_send.plugin_for("nosuch://x")
    with pytest.raises(apprise_send.ChannelUrlError, match="acts on the scheduler's own machine"):
        apprise_send.plugin_for("syslog://")


def test_a_channel_url_is_shown_as_scheme_and_host_never_a_token():
    assert apprise_send.shown_url("dingtalk://s3cr3t@acc3ssT0ken/") == "dingtalk://oapi.dingtalk.com"
    assert apprise_send.shown_url("tgram://123456789:abcdefg_hijklmnop/-100123/") == "tgram://api.telegram.org"
    assert apprise_send.shown_url("jsons://hooks.example.com/ops?token=abc") == "jsons://hooks.example.com"
    assert apprise_send.shown_url("mailtos://user:pa55word@smtp.example.com?to=a@example.com") == \
        "mailtos://smtp.example.com"


@pytest.fixture
def smtp_server():
    from .smtp_standin import SmtpStandIn

    server = SmtpStandIn()
    yield server
    server.close()


def test_an_email_channel_reaches_its_smtp_server_only_where_allowed(smtp_server, settings):
    url = f"mailto://127.0.0.1:{smtp_server.port}?from=scheduler@example.com&to=ops@example.com&mode=insecure"
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = []
    with pytest.raises(SendError) as info:
        apprise_send.send(url, "nightly failed", "exit code 3")
    assert "127.0.0.1 is not a public address" in str(info.value) and smtp_server.messages == []

    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    apprise_send.send(url, "nightly failed", "exit code 3")

    ((sender, recipients, data),) = smtp_server.messages
    assert "scheduler@example.com" in sender and recipients == ["<ops@example.com>"]
    assert "nightly failed" in data and "exit code 3" in data
