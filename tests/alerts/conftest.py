import pytest

from tasks_app import outbound_requests

from .standin import StandIn, adapter_for


@pytest.fixture
def stand_in(settings, monkeypatch):
    """The stand-in server, with the real Apprise plugins' requests sent to it; 127.0.0.1 allowed."""
    server = StandIn()
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    monkeypatch.setattr(outbound_requests, "adapter_class", adapter_for(server))
    yield server
    server.close()


from tests.engine.conftest import engine_scripts, make_task, runscheduler, start_engine  # noqa: E402,F401  (the engine's fixtures)
