"""Login throttling on the login page and the admin's: after 5 failures for a user name from one address, even
the right password is refused (429, the locked-out page) until the cool-off ends, then allowed again."""
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db

PAGES = ["/login/", "/admin/login/"]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def vera(db):
    return make_user("vera", "viewer")  # password "pw-vera"


def attempt(page, password, username="vera", address="203.0.113.7"):
    client = Client(REMOTE_ADDR=address)
    response = client.post(page, {"username": username, "password": password, "next": "/"})
    return response, client


def logged_in(client):
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("page", PAGES)
def test_after_five_failures_even_the_right_password_is_refused_until_the_cool_off_ends(vera, page):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        statuses = [attempt(page, f"wrong-{n}")[0].status_code for n in range(5)]
        assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks out
        response, client = attempt(page, "pw-vera")
        assert response.status_code == 429 and not logged_in(client)
        page_text = response.content.decode()
        assert "Too many failed logins" in page_text and "After 5 failed logins" in page_text
        assert "Try again in 15 minutes." in page_text
        assert int(response["Retry-After"]) == django_settings.LOGIN_COOLOFF
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        response, client = attempt(page, "pw-vera")
        assert response.status_code == 429 and "Try again in 5 minutes." in response.content.decode()
        assert not logged_in(client)
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        response, client = attempt(page, "pw-vera")
        assert response.status_code == 302 and logged_in(client)


def test_the_lock_is_for_that_user_name_from_that_address(vera):
    make_user("otto", "operator")
    for n in range(5):
        attempt("/login/", f"wrong-{n}")
    assert attempt("/login/", "pw-vera")[0].status_code == 429
    assert logged_in(attempt("/login/", "pw-vera", address="198.51.100.9")[1])  # vera from elsewhere
    assert logged_in(attempt("/login/", "pw-otto", username="otto")[1])  # someone else from here


def test_failures_spread_over_more_than_the_cool_off_do_not_lock_out_and_a_success_clears_them(vera):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert [attempt("/login/", "wrong")[0].status_code for _ in range(4)] == [200] * 4
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert [attempt("/login/", "wrong")[0].status_code for _ in range(4)] == [200] * 4
        assert logged_in(attempt("/login/", "pw-vera")[1])
        assert [attempt("/login/", "wrong")[0].status_code for _ in range(4)] == [200] * 4
        assert logged_in(attempt("/login/", "pw-vera")[1])


def test_the_limits_come_from_the_settings(vera, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=2)
    responses = [attempt("/login/", "wrong")[0] for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 429]
    assert "After 2 failed logins" in responses[1].content.decode()
    assert "Try again in 2 minutes." in responses[1].content.decode()


def test_a_failed_login_still_shows_the_form_with_its_error_before_the_limit(vera):
    response, _ = attempt("/login/", "wrong")
    assert response.status_code == 200 and "login-submit" in response.content.decode()


def test_the_locked_out_page_speaks_chinese_to_a_chinese_browser(vera):
    client = Client(REMOTE_ADDR="203.0.113.7", HTTP_ACCEPT_LANGUAGE="zh-hans")
    for n in range(5):
        response = client.post("/login/", {"username": "vera", "password": f"wrong-{n}"})
    assert response.status_code == 429
    html = response.content.decode()
    assert "登录失败次数过多" in html and "请在 15 分钟后重试。" in html


def test_the_defaults_are_five_failures_and_fifteen_minutes():
    assert django_settings.LOGIN_FAILURE_LIMIT == django_settings.AXES_FAILURE_LIMIT == 5
    assert django_settings.AXES_COOLOFF_TIME == timedelta(seconds=django_settings.LOGIN_COOLOFF) == timedelta(minutes=15)
