"""The channel pages in a real browser, in English and in Chinese: an operator creates a channel, sends a test
message (to the stand-in server) and sees the exact error when it cannot go; a viewer sees the channels only."""
import re

import pytest
from playwright.sync_api import expect

from tasks_app.models import Channel
from tests.alerts.conftest import stand_in  # noqa: F401  (the stand-in server for the services' hosts)
from tests.alerts.helpers import json_channel

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_operator_creates_a_channel_and_sends_a_test_message(logged_in, stand_in, settings):  # noqa: F811
    page = logged_in("operator")
    page.click("nav >> text=Channels")
    expect(page.locator("#no-channels")).to_contain_text("No channels yet.")

    page.click("#new-channel")
    page.fill("#id_name", "ops-wecom")
    page.fill("#id_url", "nosuch://abc")
    page.click("#save-channel")
    expect(page.locator("#channel-form")).to_contain_text("does not understand this nosuch:// URL")
    page.fill("#id_url", "wecombot://b0tK3yWeCom")
    page.check("#id_is_default")
    page.click("#save-channel")

    expect(page).to_have_url(re.compile(r"/channels$"))
    row = page.locator("#channel-ops-wecom")
    expect(row.locator(".channel-url")).to_have_text("wecombot://qyapi.weixin.qq.com")
    expect(row).to_contain_text("default")
    assert Channel.objects.get(name="ops-wecom").is_default
    assert "b0tK3yWeCom" not in page.content()

    row.locator(".send-test").click()
    expect(page.locator(".alert-success")).to_contain_text("Test message sent to ops-wecom")
    assert len(stand_in.received) == 1

    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = []
    page.locator("#channel-ops-wecom .send-test").click()
    expect(page.locator(".alert-danger")).to_contain_text("was not sent: refused: 127.0.0.1")


def test_a_chinese_viewer_sees_the_channels_in_chinese_without_buttons(logged_in):
    json_channel("ops", is_default=True)
    page = logged_in("viewer", locale="zh-CN")

    page.click("nav >> text=通知渠道")

    expect(page.locator("h1")).to_have_text("通知渠道")
    expect(page.locator("#channel-ops .channel-url")).to_have_text("jsons://hooks.example.com")
    expect(page.locator("#channel-ops")).to_contain_text("默认")
    expect(page.locator("#new-channel")).to_have_count(0)
    expect(page.locator(".send-test")).to_have_count(0)
