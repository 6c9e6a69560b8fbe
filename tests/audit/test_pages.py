"""/audit for every role that can log in: filters on user, task, action and days, 50 entries a page, bad filters
named next to their field, in English and Chinese; the same filters in GET /api/audit."""
import pytest
from django.utils import timezone

from tasks_app.audit import events
from tasks_app.services import tasks as services

from .conftest import make_user


@pytest.fixture
def busy(make_task):
    task = make_task()
    for retries in range(1, 56):
        services.update_task(task, {"task_retry": retries % 7}, actor="otto" if retries % 2 else "ada", via="web",
                             partial=True)
    make_task("other")
    return task


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_sees_the_trail_and_anonymous_users_are_sent_to_log_in(page_as, role, busy, client):
    assert page_as(role).get("/audit").status_code == 200
    client.logout()
    assert client.get("/audit")["Location"].startswith("/login/")
    client.force_login(make_user("nora"))
    assert client.get("/audit").status_code == 403


def test_the_trail_shows_fifty_entries_a_page_newest_first(page_as, busy):
    html = page_as("viewer").get("/audit").content.decode()
    assert html.count("<tr data-action=") == 50 and 'rel="next"' in html
    assert html.index('data-action="task.created"') < html.index('data-action="task.updated"')  # "other" is newest
    second = page_as("viewer").get("/audit?task=audited&page=2").content.decode()
    assert second.count("<tr data-action=") == 56 - 50  # created, then edited 55 times


def test_the_filters_narrow_the_trail_and_a_bad_one_is_named(page_as, busy):
    viewer = page_as("viewer")
    html = viewer.get("/audit?user=otto&task=audited&action=task.updated").content.decode()
    assert html.count("<tr data-action=") == 28
    today = timezone.localdate().isoformat()
    assert viewer.get(f"/audit?since={today}&until={today}&task=other").content.decode().count("<tr data-action=") == 1
    assert viewer.get("/audit?until=2000-01-01").content.decode().count("<tr data-action=") == 0
    bad = viewer.get("/audit?action=task.exploded&since=yesterday").content.decode()
    assert "action &#x27;task.exploded&#x27; is not one of" in bad
    assert "since &#x27;yesterday&#x27; is not a date" in bad


def test_the_api_has_the_same_filters_and_pages(api_as, busy):
    api = api_as("viewer")
    answer = api.get("/api/audit", {"user": "ada", "action": events.TASK_UPDATED}).json()
    assert answer["count"] == 27 and len(answer["results"]) == 27
    assert {e["actor"] for e in answer["results"]} == {"ada"}
    assert answer["results"][0]["version"] == 55  # her last edit, the 54th (the 55th was otto's)
    assert api.get("/api/audit?task=audited").json()["count"] == 56 and api.get("/api/audit").json()["next"]
    window = {"since": "2000-01-01T00:00:00Z", "until": "2000-01-02T00:00:00Z"}
    assert api.get("/api/audit", window).json()["count"] == 0
    # An offset Python reads but PostgreSQL would refuse is turned into UTC first.
    assert api.get("/api/audit", {"since": "2000-01-01T00:00:00+21:22", "task": "audited"}).json()["count"] == 56
    bad = api.get("/api/audit", {"action": "task.exploded"})
    assert bad.status_code == 400 and "action" in bad.json()


def test_the_trail_is_in_chinese_for_a_chinese_browser(page_as, busy):
    html = page_as("viewer").get("/audit", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "审计日志" in html and "编辑任务" in html
    html = page_as("viewer").get("/tasks/audited/versions", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "各版本（最新在前）" in html and "与上一版本比较" in html
