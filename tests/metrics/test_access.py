"""Who may read /metrics, over real HTTP: a scraper with METRICS_TOKEN, or a logged-in user of any role; anyone
else is refused without a word of the metrics, and the HTTPS redirect leaves /metrics alone like a probe's path."""
import ast
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.test import Client

from .conftest import TOKEN, families, make_user, scrape_http

pytestmark = [pytest.mark.django_db(transaction=True)]
ROOT = django_settings.BASE_DIR


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def test_the_right_token_reads_metrics_that_prometheus_parses(live_server):
    answer = scrape_http(live_server, TOKEN)
    assert answer.status == 200 and answer.headers["cache-control"] == "no-store"
    assert "scheduler_executions" in families(answer.body.decode())


def test_a_scraper_asking_for_openmetrics_gets_openmetrics(live_server):
    answer = scrape_http(live_server, TOKEN, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.body.decode().rstrip().endswith("# EOF")


def test_without_credentials_the_answer_is_401_saying_what_to_send_and_nothing_else(live_server):
    answer = scrape_http(live_server, token=None)
    assert answer.status == 401 and answer.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert b"scheduler_" not in answer.body


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}",
                                    f"Token {TOKEN}", "Bearer " + "é" * 40])
def test_a_wrong_token_is_refused_and_logged_with_the_address(live_server, header, caplog):
    logger = logging.getLogger("WebInterface")
    logger.addHandler(caplog.handler)
    try:
        answer = scrape_http(live_server, token=None, headers={"Authorization": header.encode().decode("latin-1")})
    finally:
        logger.removeHandler(caplog.handler)
    assert answer.status == 401 and 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert b"scheduler_" not in answer.body
    assert "wrong or unexpected Authorization header from 127.0.0.1" in caplog.text
    assert TOKEN not in caplog.text


def test_with_no_token_configured_no_bearer_token_is_accepted(live_server, settings):
    settings.METRICS_TOKEN = ""
    assert scrape_http(live_server, "").status == 401
    assert scrape_http(live_server, TOKEN).status == 401


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_a_logged_in_user_of_any_role_reads_the_metrics(live_server, role):
    cookie = session_cookie(make_user(f"u-{role}", role))
    answer = scrape_http(live_server, token=None, headers={"Cookie": cookie})
    assert answer.status == 200 and "scheduler_tasks" in families(answer.body.decode())


def test_a_logged_in_user_without_a_role_is_refused_403(live_server):
    cookie = session_cookie(make_user("nobody"))
    answer = scrape_http(live_server, token=None, headers={"Cookie": cookie})
    assert answer.status == 403 and b"scheduler_" not in answer.body


def test_a_wrong_token_is_refused_even_with_a_viewers_session(live_server):
    cookie = session_cookie(make_user("vera", "viewer"))
    answer = scrape_http(live_server, token="not-the-token", headers={"Cookie": cookie})
    assert answer.status == 401


def test_only_get_is_answered(live_server):
    from tests.api.conftest import http

    answer = http("POST", live_server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, body={})
    assert answer.status in (403, 405)  # CSRF refuses a POST without its token before the view does


def test_behind_https_a_plain_http_scrape_is_answered_not_redirected(settings):
    # The settings as a deployment with DJANGO_HTTPS=true reads them, in a process of their own.
    code = "from django.conf import settings; print(settings.SECURE_SSL_REDIRECT, settings.SECURE_REDIRECT_EXEMPT)"
    env = {**os.environ, "DJANGO_HTTPS": "true", "DJANGO_SETTINGS_MODULE": "scheduler_site.settings"}
    out = subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    redirect, exempt = out.split(" ", 1)
    assert redirect == "True"
    settings.SECURE_SSL_REDIRECT, settings.SECURE_REDIRECT_EXEMPT = True, ast.literal_eval(exempt)
    client = Client()
    assert client.get("/login/").status_code == 301
    assert client.get("/metrics/").status_code == 301  # only /metrics itself
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_the_refusal_speaks_the_users_language(live_server):
    cookie = session_cookie(make_user("nobody-zh"))
    answer = scrape_http(live_server, token=None, headers={"Cookie": cookie, "Accept-Language": "zh-Hans"})
    assert answer.status == 403 and "没有任何角色" in answer.body.decode()


def test_a_scraper_that_accepts_gzip_gets_the_same_metrics_compressed(live_server):
    import gzip

    plain = scrape_http(live_server, TOKEN)
    packed = scrape_http(live_server, TOKEN, headers={"Accept-Encoding": "gzip"})
    assert packed.status == 200 and packed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert set(families(gzip.decompress(packed.body).decode())) == set(families(plain.body.decode()))


@pytest.mark.parametrize("accept", ["*/*", "text/html", "application/openmetrics-text; version=9.9", "\x7f;;;=",
                                    "application/json"])
def test_any_accept_header_gets_an_answer_prometheus_parses(live_server, accept):
    answer = scrape_http(live_server, TOKEN, headers={"Accept": accept})
    assert answer.status == 200
    if answer.headers["content-type"].startswith("text/plain"):
        assert "scheduler_tasks" in families(answer.body.decode())
