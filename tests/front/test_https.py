"""DJANGO_HTTPS=true turns on the HTTPS protections behind a TLS proxy: `check --deploy` then reports none of
security.W004/W008/W012/W016, plain HTTP is redirected, cookies are Secure and HSTS is sent."""
import http.client
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings


def get(port, path, headers=None):
    """One GET over real HTTP, redirects not followed: (status, headers with lower-case names)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()

HTTPS_WARNINGS = ("security.W004", "security.W008", "security.W012", "security.W016")


def check_deploy(**env):
    base = {k: v for k, v in os.environ.items() if k not in ("DJANGO_HTTPS", "DJANGO_DEBUG")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=settings.BASE_DIR, capture_output=True, text=True,
        timeout=120, env={**base, "DJANGO_SECRET_KEY": secrets.token_urlsafe(60), "DJANGO_DEBUG": "false", **env})
    return result.stdout + result.stderr


def test_check_deploy_with_django_https_reports_none_of_the_https_warnings():
    without = check_deploy()
    assert all(code in without for code in HTTPS_WARNINGS), without  # the check does look for them
    with_https = check_deploy(DJANGO_HTTPS="true")
    assert not [code for code in HTTPS_WARNINGS if code in with_https], with_https
    assert "security.W009" not in with_https and "security.W018" not in with_https


def test_a_malformed_hsts_setting_stops_the_process():
    output = check_deploy(DJANGO_HTTPS="true", DJANGO_HSTS_SECONDS="a year")
    assert "DJANGO_HSTS_SECONDS='a year'" in output


@pytest.mark.django_db(transaction=True)
def test_behind_a_tls_proxy_plain_http_is_redirected_and_cookies_are_secure(serve):
    server = serve(env={"DJANGO_HTTPS": "true", "DJANGO_HSTS_SECONDS": "3600"})
    status, headers = get(server.port, "/login/")
    assert status == 301 and headers["location"] == f"https://127.0.0.1:{server.port}/login/"

    # What the proxy sends for a request that came to it over HTTPS.
    status, headers = get(server.port, "/login/", {"X-Forwarded-Proto": "https"})
    assert status == 200
    assert headers["strict-transport-security"] == "max-age=3600"
    cookie = headers["set-cookie"]
    assert cookie.startswith("csrftoken=") and "Secure" in cookie
