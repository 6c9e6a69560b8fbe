"""The scheduler-down banner on the pages (tasks_app/web/banner.py): shown to every logged-in role once no
scheduler has been alive for SCHEDULER_BANNER_AFTER seconds, never to an anonymous visitor, and not at all where
no scheduler ever ran. The browser test (e2e/test_banner_browser.py) follows a real scheduler's death."""
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.db.models.functions import Now
from django.utils import timezone

from tasks_app.models import SchedulerLease
from tests.engine.conftest import previous_leader

pytestmark = pytest.mark.django_db


def client_for(client, role):
    user = User.objects.create_user(f"u-{role}", password="pw-12345-long")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_sees_the_banner_once_no_scheduler_has_been_alive_for_30_seconds(client, role):
    previous_leader("old-host:1", last_seen=timezone.now() - timedelta(seconds=31))
    page = client_for(client, role).get("/").content.decode()
    assert 'id="scheduler-down"' in page and "The scheduler is not running since" in page


def test_the_banner_waits_30_seconds_after_the_last_heartbeat(client):
    previous_leader("old-host:1", last_seen=timezone.now() - timedelta(seconds=20))
    assert 'id="scheduler-down"' not in client_for(client, "viewer").get("/").content.decode()


def test_no_banner_while_a_scheduler_leads_or_where_none_ever_ran(client):
    viewer = client_for(client, "viewer")
    assert 'id="scheduler-down"' not in viewer.get("/").content.decode()
    SchedulerLease.objects.create(holder="live:2", host="live", pid=2, token="t", acquired_at=Now(),
                                  renewed_at=datetime(2001, 1, 1, tzinfo=UTC), expires_at=Now() + timedelta(seconds=6))
    # Its renewal is old, but it holds the lease: it leads.
    assert 'id="scheduler-down"' not in viewer.get("/").content.decode()


def test_an_anonymous_visitor_sees_no_banner_on_the_login_page(client):
    previous_leader("old-host:1", last_seen=timezone.now() - timedelta(minutes=5))
    page = client.get("/login/").content.decode()
    assert 'id="scheduler-down"' not in page


def test_the_banner_is_in_chinese_for_a_chinese_browser(client):
    previous_leader("old-host:1", last_seen=timezone.now() - timedelta(minutes=5))
    page = client_for(client, "viewer").get("/", headers={"accept-language": "zh-CN"}).content.decode()
    assert "调度器自" in page and "起未在运行" in page


def test_the_admin_shows_the_banner_too(client):
    previous_leader("old-host:1", last_seen=timezone.now() - timedelta(minutes=5))
    admin = User.objects.create_superuser("root", password="pw-12345-long")
    client.force_login(admin)
    page = client.get("/admin/").content.decode()
    assert 'id="scheduler-down"' in page and "The scheduler is not running since" in page


def test_the_workers_page_names_the_leading_scheduler_or_says_that_none_leads(client):
    viewer = client_for(client, "viewer")
    assert 'id="scheduler-lease"' not in viewer.get("/workers").content.decode()  # none ever ran here
    SchedulerLease.objects.create(holder="sched-a:41", host="sched-a", pid=41, token="t", acquired_at=Now(),
                                  renewed_at=Now(), expires_at=Now() + timedelta(seconds=6))
    html = viewer.get("/workers").content.decode()
    assert "Scheduler sched-a:41 leads since" in html

    previous_leader("sched-a:41", last_seen=timezone.now() - timedelta(minutes=2))
    html = viewer.get("/workers", headers={"accept-language": "zh-CN"}).content.decode()
    assert "当前没有主调度器" in html and "sched-a:41" in html
