"""Fixtures for /metrics: a token in the settings, real HTTP requests to the live server, and the answer read
back with prometheus_client's own parser."""
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import http
from tests.web.conftest import make_user  # noqa: F401  (used by the tests)

TOKEN = "metrics-token-for-the-tests-0123456789"


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return TOKEN


def scrape_http(live_server, token=TOKEN, headers=None):
    """GET /metrics over HTTP with the bearer token (None: without one)."""
    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return http("GET", live_server.url + "/metrics", headers=headers)


def samples(text: str) -> dict:
    """{(sample name, ((label, value), ...)): value} of a Prometheus text answer, parsed by prometheus_client."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}
