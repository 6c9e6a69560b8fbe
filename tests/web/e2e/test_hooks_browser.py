"""Trigger URLs in a real browser, in English and in Chinese: an operator creates one, sees it once with a copy
button, starts the task with it over real HTTP, and revokes it; a viewer sees no trigger URLs."""
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tasks_app.models import TaskExecution
from tasks_app.services.tasks import create_task

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def post(url) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST", data=b""), timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def task(transactional_db):
    return create_task({"task_id": "nightly", "task_name": "Nightly", "task_exec": "tasks/test_task.py",
                        "task_schedule": "0 3 * * *"}, actor="t", via="cli")


def test_an_operator_creates_copies_uses_and_revokes_a_trigger_url(logged_in, task, live_server):
    page = logged_in("operator")
    page.goto("/tasks/nightly/view")
    expect(page.locator("#no-hooks")).to_have_text("No trigger URLs.")
    page.fill("#hook-name", "from CI")
    page.fill("#hook-expires", "soon")
    page.click("#new-hook")
    expect(page.locator(".alert-danger")).to_contain_text("Expires in: 'soon' is not a lifetime")

    page.fill("#hook-name", "from CI")
    page.fill("#hook-expires", "30d")
    page.click("#new-hook")
    expect(page.locator("#hook-created")).to_contain_text("it is shown only this once")
    url = page.locator("#hook-url").input_value()
    assert re.fullmatch(re.escape(live_server.url) + r"/api/hooks/hk_[A-Za-z0-9_-]{43}", url)
    page.click("#copy-hook-url")
    expect(page.locator("#copy-hook-url")).to_have_text("Copied")

    assert post(url) == 202
    assert TaskExecution.objects.get().trigger == "hook"

    page.click("text=Done")
    row = page.locator("#hook-table tbody tr").first
    expect(row).to_contain_text("from CI")
    expect(row).to_contain_text(url.rsplit("/", 1)[1][:10] + "…")
    assert url.rsplit("/", 1)[1] not in page.content()
    row.locator(".revoke-hook").click()
    expect(page.locator(".alert-success")).to_contain_text("revoked: it starts nothing any more")
    expect(page.locator("#hook-table tbody tr").first).to_have_attribute("data-state", "revoked")
    assert post(url) == 404
    assert TaskExecution.objects.count() == 1


def test_a_chinese_operator_makes_a_trigger_url_and_a_viewer_sees_none(logged_in, task):
    page = logged_in("operator", locale="zh-CN")
    page.goto("/tasks/nightly/view")
    expect(page.locator("#trigger-urls h2")).to_have_text("触发 URL")
    expect(page.locator("#no-hooks")).to_have_text("没有触发 URL。")
    page.fill("#hook-name", "来自 CI")
    page.click("#new-hook")
    expect(page.locator("#hook-created")).to_contain_text("请立即复制：它只显示这一次。")
    page.click("#copy-hook-url")
    expect(page.locator("#copy-hook-url")).to_have_text("已复制")
    page.click("text=完成")
    expect(page.locator("#hook-table")).to_contain_text("来自 CI")
    expect(page.locator("#hook-table .revoke-hook")).to_have_text("吊销")

    viewer = logged_in("viewer", locale="zh-CN")
    viewer.goto("/tasks/nightly/view")
    expect(viewer.locator("h1")).to_have_text("Nightly")
    expect(viewer.locator("#trigger-urls")).to_have_count(0)
