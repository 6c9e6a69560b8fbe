"""Shared fixtures: every test gets its own conf/ and logs/ folders, so tests never touch the real ones, and an
empty cache."""
import pytest
from django.core.cache import cache

pytest_plugins = ["tests.browser"]  # the browser fixtures, one definition for every test that drives a browser


@pytest.fixture(autouse=True)
def isolated_dirs(settings, tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    logs = tmp_path / "logs"
    conf.mkdir()
    logs.mkdir()
    settings.CONF_DIR = conf
    settings.LOGS_DIR = logs
    settings.BACKUPS_DIR = conf / "backups"
    settings.EXECUTION_OUTPUT_DIR = logs / "executions"
    # Child processes (runscheduler, manage.py commands) read the same folders from the environment.
    monkeypatch.setenv("CONF_DIR", str(conf))
    monkeypatch.setenv("LOGS_DIR", str(logs))
    # Secrets are sealed under a key of the test's own, in a key file that child processes find too.
    settings.SECRETS_KEYS = []
    settings.SECRETS_KEY_FILE = tmp_path / ".secrets_key"
    monkeypatch.delenv("SCHEDULER_SECRETS_KEY", raising=False)
    monkeypatch.setenv("SCHEDULER_SECRETS_KEY_FILE", str(tmp_path / ".secrets_key"))
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The throttles' counts (local memory, one per process) start empty for every test.
    cache.clear()
    return tmp_path


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Each pytest process gets its own test database, so several runs at once (developers, CI) never
    drop each other's. Child processes find it through the DATABASE_URL the engine fixtures build."""
    import os

    from pytest_django.fixtures import _set_suffix_to_test_databases

    _set_suffix_to_test_databases(f"p{os.getpid()}")


@pytest.fixture(autouse=True)
def english_after_each_test():
    """A request in Chinese leaves its language active in the thread: the next test must not inherit it."""
    yield
    from django.utils import translation

    translation.activate("en")


@pytest.fixture(scope="session", autouse=True)
def no_watchdog_in_tests():
    """The live server loads scheduler_site.wsgi, which starts the web process's watchdog: not in the test process,
    where its rounds would open incidents and send notices in the middle of other tests (tests/alerts drive it
    round by round instead)."""
    from django.conf import settings

    settings.SCHEDULER_WATCH_INTERVAL = 0


# Tests that race a real clock against real processes (schedulers, workers, shepherds, a browser). A failure of one
# of them is run once more and reported as a rerun ("R" and the RERUN line of -ra), so a machine too busy for one
# attempt does not hide the rest of the suite's result; one that fails twice fails the run.
REAL_TIME_DIRS = ("engine", "engine_runner", "safety", "celery", "alerts", "standby", "tasktypes", "metrics",
                  "central_logs", "faststart")
REAL_TIME_FIXTURES = {"start_engine", "live_server"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = item.nodeid.split("/")
        real_time = len(parts) > 2 and parts[1] in REAL_TIME_DIRS
        real_time = real_time or bool(REAL_TIME_FIXTURES & set(getattr(item, "fixturenames", ())))
        if real_time or item.get_closest_marker("slow") or item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))


@pytest.fixture(autouse=True)
def no_fork_server_outlives_its_test():
    """A run whose shepherd execs its command (a shell task's) starts a fork server even without fast start."""
    yield
    from tasks_app.engine import forkserver

    forkserver.stop()


@pytest.fixture(params=["spawn", "fork"])
def start_way(request, settings):
    """A confinement test run both ways a run's shepherd can start: spawned, or forked by the fast-start fork
    server (engine/forkserver.py). Returns the record a run of the fork way must carry ("" for a spawn)."""
    from tasks_app.engine import forkserver

    settings.SCHEDULER_FAST_START = request.param == "fork"
    yield "forked" if request.param == "fork" else ""
    forkserver.stop()


def started_as(result, way: str) -> bool:
    """Whether a RunResult's record says its shepherd started the way `start_way` asked ("" : spawned)."""
    return (result.limits or {}).get("start", "") == way
