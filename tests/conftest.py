"""Shared fixtures: every test gets its own conf/ and logs/ folders, so tests never touch the real ones."""
import pytest


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
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return tmp_path
