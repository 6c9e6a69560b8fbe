"""API throttling: bad keys (unknown, revoked, expired, malformed) count per address, and 20 within a minute lock
that address out with 429 and Retry-After until the cool-off ends, even with a good key; throttles per key and
for anonymous requests, with rates from the settings."""
import time

import pytest
import time_machine
from rest_framework.test import APIClient

from scheduler_site import env
from tasks_app.models import ApiKey
from tasks_app.models.apikey import hash_key
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db

ATTACKER, OTHER = "203.0.113.7", "198.51.100.9"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def good_key(db):
    return ApiKey.issue(make_user("ops", "viewer"))[1]


def get(key, address=ATTACKER):
    client = APIClient(REMOTE_ADDR=address)
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client.get("/api/tasks")


def test_twenty_bad_keys_in_a_minute_lock_the_address_out_until_the_cool_off_ends(good_key, settings):
    start = time.time()
    with time_machine.travel(start, tick=False):
        statuses = [get(f"tsk_guess-{n}").status_code for n in range(20)]
        assert statuses == [401] * 20
        locked = get(good_key)  # even the right key
        assert locked.status_code == 429
        assert int(locked["Retry-After"]) == settings.API_KEY_FAILURE_COOLOFF + 1
        assert "invalid API keys from your address" in locked.json()["detail"]
        assert get(good_key, address=OTHER).status_code == 200  # another address is not locked out
    with time_machine.travel(start + settings.API_KEY_FAILURE_COOLOFF - 5, tick=False):
        assert get(good_key).status_code == 429
        assert int(get(good_key)["Retry-After"]) <= 6
    with time_machine.travel(start + settings.API_KEY_FAILURE_COOLOFF + 1, tick=False):
        assert get(good_key).status_code == 200


def test_revoked_expired_and_malformed_keys_count_as_failures_too(good_key):
    revoked_plain = ApiKey.issue(make_user("old", "viewer"))[1]
    ApiKey.objects.get(key_hash=hash_key(revoked_plain)).revoke()
    for n in range(19):
        assert get(revoked_plain if n % 2 else "").status_code == 401
    assert get(good_key).status_code == 200  # 19 so far: not yet
    assert get("two words").status_code == 401
    assert get(good_key).status_code == 429


def test_bad_keys_spread_over_more_than_a_minute_do_not_lock_out(good_key):
    start = time.time()
    for n in range(38):
        with time_machine.travel(start + n * 4, tick=False):  # 15 a minute
            assert get(f"tsk_typo-{n}").status_code == 401, n
    with time_machine.travel(start + 38 * 4, tick=False):
        assert get(good_key).status_code == 200


def test_requests_per_key_are_throttled_by_the_setting(good_key, settings):
    settings.API_THROTTLE_KEY = "3/min"
    other = ApiKey.issue(make_user("other", "viewer"))[1]
    start = time.time()
    with time_machine.travel(start, tick=False):
        assert [get(good_key).status_code for _ in range(3)] == [200, 200, 200]
        refused = get(good_key)
        assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
        assert get(other).status_code == 200  # per key, not per address
    with time_machine.travel(start + 61, tick=False):
        assert get(good_key).status_code == 200


def test_anonymous_requests_are_throttled_per_address(db, settings):
    settings.API_THROTTLE_ANON = "2/min"
    assert [get(None).status_code for _ in range(2)] == [401, 401]
    assert get(None).status_code == 429
    assert get(None, address=OTHER).status_code == 401


def test_a_rate_of_off_means_no_throttle(good_key, settings):
    settings.API_THROTTLE_KEY = None
    assert {get(good_key).status_code for _ in range(30)} == {200}


def test_the_defaults_do_not_trip_an_ordinary_session(good_key, settings):
    assert settings.API_THROTTLE_KEY == "1200/min" and settings.API_THROTTLE_ANON == "120/min"
    assert (settings.API_KEY_FAILURE_LIMIT, settings.API_KEY_FAILURE_WINDOW) == (20, 60)
    assert {get(good_key).status_code for _ in range(100)} == {200}


def test_behind_trusted_proxies_the_address_the_nearest_proxy_saw_counts(good_key, settings):
    client = APIClient(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"{OTHER}, {ATTACKER}")
    client.credentials(HTTP_AUTHORIZATION="Bearer tsk_guess")
    for _ in range(20):
        client.get("/api/tasks")  # no trusted proxy: X-Forwarded-For is ignored, 127.0.0.1 is locked out
    assert get(good_key, address="127.0.0.1").status_code == 429
    settings.DJANGO_PROXY_COUNT = 1
    for _ in range(20):
        client.get("/api/tasks")  # one proxy: the address it saw (the right-most) counts
    assert get(good_key, address="10.9.9.9").status_code == 200
    proxied = APIClient(REMOTE_ADDR="127.0.0.2", HTTP_X_FORWARDED_FOR=ATTACKER)
    proxied.credentials(HTTP_AUTHORIZATION=f"Bearer {good_key}")
    assert proxied.get("/api/tasks").status_code == 429


def test_rates_are_read_strictly(monkeypatch):
    monkeypatch.setenv("API_THROTTLE_KEY", "600 / minute")
    assert env.env_rate("API_THROTTLE_KEY", "1/s") == "600/minute"
    monkeypatch.setenv("API_THROTTLE_KEY", "off")
    assert env.env_rate("API_THROTTLE_KEY", "1/s") is None
    for bad in ("fast", "10/week", "0/min", "10"):
        monkeypatch.setenv("API_THROTTLE_KEY", bad)
        with pytest.raises(env.ImproperlyConfiguredEnv, match="API_THROTTLE_KEY"):
            env.env_rate("API_THROTTLE_KEY", "1/s")
