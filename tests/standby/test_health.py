"""/healthz and /healthz/scheduler over real HTTP: no login, no secrets, plain HTTP even behind a TLS proxy, and
503 with the reason when the database or the scheduler is not there."""
import pytest

from tests.front.test_https import get

from .conftest import get_json

pytestmark = pytest.mark.django_db(transaction=True)
QUIET = {"SCHEDULER_WATCH_INTERVAL": "0"}


def test_healthz_answers_200_without_a_login_when_the_database_is_reachable(serve):
    server = serve(env=QUIET)
    status, body, _ = get_json(server.port, "/healthz")
    assert (status, body) == (200, {"status": "ok"})


def test_healthz_answers_503_with_the_reason_and_no_secret_when_the_database_is_unreachable(serve):
    # Nothing listens on port 9: the server starts, but every query fails.
    server = serve(env={**QUIET, "DATABASE_URL": "postgres://scheduler:pg-s3cret-pw@127.0.0.1:9/prod"})
    status, body, raw = get_json(server.port, "/healthz")
    assert status == 503
    assert body["status"] == "unavailable" and body["reason"].startswith("the database cannot be reached")
    assert "pg-s3cret-pw" not in raw and "scheduler:" not in raw and "127.0.0.1" not in raw

    status, body, _ = get_json(server.port, "/healthz/scheduler")
    assert status == 503 and body["reason"].startswith("the database cannot be reached")


def test_healthz_scheduler_is_503_when_no_scheduler_ever_ran(serve):
    server = serve(env=QUIET)
    status, body, _ = get_json(server.port, "/healthz/scheduler")
    assert (status, body) == (503, {"status": "unavailable", "reason": "no scheduler has ever run on this database"})


def test_healthz_scheduler_is_200_while_a_scheduler_leads_and_503_once_it_stopped(serve, runscheduler,
                                                                                  engine_scripts):
    server = serve(env=QUIET)
    scheduler = runscheduler()
    status, body, raw = get_json(server.port, "/healthz/scheduler")
    assert status == 200 and body["status"] == "ok" and 0 <= body["heartbeat_age_seconds"] < 6
    assert str(scheduler.pid) not in raw  # who leads is for the pages, not for anonymous probes

    assert scheduler.stop() == 0
    status, body, _ = get_json(server.port, "/healthz/scheduler")
    assert status == 503 and body["reason"].startswith("the scheduler stopped: none leads since ")


def test_behind_a_tls_proxy_the_health_checks_answer_plain_http_while_pages_redirect(serve):
    server = serve(env={**QUIET, "DJANGO_HTTPS": "true"})
    assert get(server.port, "/login/")[0] == 301
    assert get(server.port, "/healthz")[0] == 200
    assert get(server.port, "/healthz/scheduler")[0] == 503  # answered, not redirected
    assert get(server.port, "/healthz/other")[0] == 301  # the exemption is exactly these two


def test_the_health_checks_refuse_writes(serve):
    import http.client

    server = serve(env=QUIET)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("POST", "/healthz", body=b"")
    assert connection.getresponse().status == 405
    connection.close()
