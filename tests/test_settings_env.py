"""The strict environment readers refuse malformed values with a message naming the variable and the value."""
import os
import stat
import subprocess
import sys

import pytest

from scheduler_site import env


def test_it_reads_booleans_and_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env.env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "off")
    assert env.env_bool("X_FLAG", True) is False
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(env.ImproperlyConfiguredEnv, match="X_FLAG='maybe'"):
        env.env_bool("X_FLAG")


def test_it_refuses_a_malformed_or_too_small_integer(monkeypatch):
    monkeypatch.setenv("X_INT", "ten")
    with pytest.raises(env.ImproperlyConfiguredEnv, match="X_INT='ten'"):
        env.env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(env.ImproperlyConfiguredEnv, match="at least 1"):
        env.env_int("X_INT", 1, minimum=1)


def test_it_refuses_an_unknown_time_zone(monkeypatch):
    monkeypatch.setenv("TIME_ZONE", "Mars/Olympus")
    with pytest.raises(env.ImproperlyConfiguredEnv, match="Mars/Olympus"):
        env.env_timezone("TIME_ZONE")
    monkeypatch.setenv("TIME_ZONE", "Europe/Berlin")
    assert env.env_timezone("TIME_ZONE") == "Europe/Berlin"


def test_it_generates_a_private_secret_key_once(tmp_path, monkeypatch):
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    first = env.secret_key(tmp_path)
    assert len(first) >= 50
    assert stat.S_IMODE(os.stat(tmp_path / ".secret_key").st_mode) == 0o600
    assert env.secret_key(tmp_path) == first


def test_a_short_secret_key_from_the_environment_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "short")
    with pytest.raises(env.ImproperlyConfiguredEnv, match="DJANGO_SECRET_KEY"):
        env.secret_key(tmp_path)


def test_manage_py_stops_at_start_up_on_a_malformed_setting(settings):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "SCHEDULER_MAX_WORKERS": "many"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SCHEDULER_MAX_WORKERS='many'" in result.stderr


def test_sqlite_runs_in_wal_mode(db):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def read_task_env(monkeypatch, raw):
    from tasks_app.definition import envnames

    monkeypatch.setenv("SCHEDULER_TASK_ENV", raw)
    return env.env_name_values("SCHEDULER_TASK_ENV", valid_name=envnames.NAME.fullmatch,
                               reserved=envnames.ENGINE_NAMES)


def test_scheduler_task_env_is_a_json_object_of_names_to_text_refused_names_included(monkeypatch):
    raw = '{"HTTPS_PROXY": "http://proxy:3128", "PATH": "/opt/bin:/usr/bin:/bin", "SSL_CERT_FILE": "/etc/ca.pem"}'
    assert read_task_env(monkeypatch, raw) == {"HTTPS_PROXY": "http://proxy:3128", "PATH": "/opt/bin:/usr/bin:/bin",
                                               "SSL_CERT_FILE": "/etc/ca.pem"}
    assert read_task_env(monkeypatch, "  ") == {}


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ('{"HTTPS_PROXY": "http://me:s3cret@proxy:3128"', "not valid JSON"),
        ('["HTTPS_PROXY=http://me:s3cret@proxy:3128"]', "got a JSON list; expected a JSON object of names to text"),
        ('{"1BAD": "x"}', "'1BAD' is not a valid environment variable name"),
        ('{"TASK_ID": "x"}', "'TASK_ID' is set by the engine for every run"),
        ('{"task_log": "x"}', "'task_log' is set by the engine for every run"),
        ('{"PORT": 8080}', "the value of 'PORT' must be text"),
        ('{"TOKEN": "s3cret\\u0000"}', "the value of 'TOKEN' must not contain a NUL character"),
        ('{"A": "x", "A": "y"}', "the name 'A' appears twice"),
    ],
)
def test_a_malformed_scheduler_task_env_is_refused_naming_it_and_never_showing_a_value(monkeypatch, raw, fragment):
    with pytest.raises(env.ImproperlyConfiguredEnv) as caught:
        read_task_env(monkeypatch, raw)
    assert str(caught.value).startswith("SCHEDULER_TASK_ENV: ") and fragment in str(caught.value)
    assert "s3cret" not in str(caught.value) and "8080" not in str(caught.value)


def test_manage_py_stops_at_start_up_on_a_malformed_scheduler_task_env(settings):
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR,
                            env={**os.environ, "SCHEDULER_TASK_ENV": '{"TASK_ID": "x"}'},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SCHEDULER_TASK_ENV: 'TASK_ID' is set by the engine for every run" in result.stderr


def test_a_scheduler_heartbeat_out_of_its_range_stops_the_process_naming_it():
    for value, words in (("often", "expected a number"), ("0.01", "must be at least 0.2"), ("60", "must be at most 20")):
        result = subprocess.run([sys.executable, "manage.py", "check"], capture_output=True, text=True, timeout=120,
                                env={**os.environ, "SCHEDULER_HEARTBEAT_SECONDS": value},
                                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        assert result.returncode != 0 and f"SCHEDULER_HEARTBEAT_SECONDS='{value}': {words}" in result.stderr


def test_the_safety_poll_is_10_s_by_default_and_one_out_of_its_range_stops_the_process_naming_it():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = "from django.conf import settings; print(settings.SCHEDULER_SAFETY_POLL)"
    env_without = {k: v for k, v in os.environ.items() if k != "SCHEDULER_SAFETY_POLL"}
    shown = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], capture_output=True, text=True,
                           timeout=120, env=env_without, cwd=root)
    assert shown.stdout.strip().splitlines()[-1] == "10.0", shown.stderr  # after the start-up lines, if any
    for value, words in (("0.5", "must be at least 1"), ("600", "must be at most 60")):
        result = subprocess.run([sys.executable, "manage.py", "check"], capture_output=True, text=True, timeout=120,
                                env={**os.environ, "SCHEDULER_SAFETY_POLL": value}, cwd=root)
        assert result.returncode != 0 and f"SCHEDULER_SAFETY_POLL='{value}': {words}" in result.stderr


def test_a_token_is_empty_or_long_printable_and_its_value_is_never_in_the_message(monkeypatch):
    monkeypatch.delenv("X_TOKEN", raising=False)
    assert env.env_token("X_TOKEN", 24) == ""
    monkeypatch.setenv("X_TOKEN", "a" * 24)
    assert env.env_token("X_TOKEN", 24) == "a" * 24
    for bad in ("short-secret-value", "with a space in the middle of it", "ünïcödé" * 5):
        monkeypatch.setenv("X_TOKEN", bad)
        with pytest.raises(env.ImproperlyConfiguredEnv, match="X_TOKEN: expected at least 24") as refused:
            env.env_token("X_TOKEN", 24)
        assert bad not in str(refused.value)
