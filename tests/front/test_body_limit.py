"""Request bodies are capped for every way in: the API, the pages and the admin answer a body at or over
REQUEST_MAX_BODY_BYTES with 413 naming the limit, before reading it; the web server `serve` starts refuses
such bodies itself, chunked ones included."""
import http.client
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tasks_app.models import ApiKey, Task
from tests.api.conftest import make_user, simple_task

LIMIT = 64 * 1024


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def small_limit(settings):
    settings.REQUEST_MAX_BODY_BYTES = LIMIT
    return LIMIT


def test_the_default_limit_is_one_mib_for_every_path(settings):
    assert settings.REQUEST_MAX_BODY_BYTES == 1024 * 1024 == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert settings.MIDDLEWARE[0] == "tasks_app.front.bodylimit.RequestBodyLimitMiddleware"


@pytest.mark.django_db
def test_an_api_body_over_the_limit_is_refused_with_a_json_413_naming_it(settings):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + ApiKey.issue(make_user("otto", "operator"))[1])
    body = simple_task("big", task_desc="x" * (6 * 1024 * 1024))  # the issue's 6 MB task_desc

    response = client.post("/api/tasks", body, format="json")

    assert response.status_code == 413
    assert response.json()["detail"].startswith("Request body too large: 6291")
    assert "bodies must be under 1048576 bytes (1 MiB, REQUEST_MAX_BODY_BYTES)" in response.json()["detail"]
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_a_body_under_the_limit_goes_through(small_limit):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + ApiKey.issue(make_user("otto", "operator"))[1])
    # Within every field's own limit (task_desc is 10,000 characters at most): the body is filled with task_env.
    body = simple_task("fits", task_env={f"K{i}": "x" * 1000 for i in range((LIMIT - 2000) // 1010)})
    assert len(json.dumps(body)) < LIMIT
    assert client.post("/api/tasks", body, format="json").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/tasks/new", "/admin/tasks_app/task/add/", "/login/"])
def test_a_page_or_admin_post_over_the_limit_is_refused_with_a_413_page(small_limit, path):
    client = Client()
    client.force_login(make_user("ada", superuser=True))
    response = client.post(path, {"task_desc": "x" * LIMIT})
    assert response.status_code == 413
    assert "bodies must be under 65536 bytes" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_server_serve_starts_refuses_long_bodies_itself_chunked_ones_too(serve):
    key = ApiKey.issue(make_user("otto", "operator"))[1]
    server = serve(env={"REQUEST_MAX_BODY_BYTES": str(LIMIT)})
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(body, chunked=False):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            try:
                if chunked:
                    pieces = (body[i:i + 8192] for i in range(0, len(body), 8192))
                    connection.request("POST", "/api/tasks", pieces, {**headers, "Transfer-Encoding": "chunked"},
                                       encode_chunked=True)
                else:
                    connection.request("POST", "/api/tasks", body, headers)
            except OSError:
                pass  # the server answered and closed before the whole body was sent
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    status, text = post(json.dumps(simple_task("big", task_desc="x" * (2 * LIMIT))).encode())
    assert status == 413 and f"exceeds max_body of {LIMIT}" in text
    status, text = post(json.dumps(simple_task("big", task_desc="x" * (2 * LIMIT))).encode(), chunked=True)
    assert status == 413 and f"exceeds max_body of {LIMIT}" in text
    status, text = post(json.dumps(simple_task("fits", task_desc="x" * 1000)).encode(), chunked=True)
    assert status == 201, text
