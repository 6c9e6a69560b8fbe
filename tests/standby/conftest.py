"""Fixtures of the standby and health tests: the real `runscheduler` of the engine tests, the real web server of
the front tests, and plain HTTP against them."""
import http.client
import json

from tests.engine.conftest import (  # noqa: F401 (fixtures used by the tests of this folder)
    engine_scripts, make_task, runscheduler, start_engine, wait_for,
)
from tests.front.conftest import serve  # noqa: F401


def get_json(port, path, headers=None):
    """One GET over real HTTP: (status, the JSON body, the raw body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        raw = response.read().decode()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        return response.status, body, raw
    finally:
        connection.close()
