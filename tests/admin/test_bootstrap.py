"""`manage.py bootstrap`: the first start imports conf/tasks.json into an empty database and creates an
administrator with a random password kept in a 0600 file; a second run changes nothing."""
import json
import shutil
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tasks_app.models import Task

pytestmark = pytest.mark.django_db

SHIPPED = Path(django_settings.BASE_DIR) / "conf" / "tasks.json"


@pytest.fixture
def project(settings, tmp_path, tasks_dir):
    """A project root of its own (the password file goes there), with the shipped conf/tasks.json."""
    settings.BASE_DIR = tmp_path
    shutil.copy(SHIPPED, Path(settings.CONF_DIR) / "tasks.json")
    return tmp_path


def bootstrap():
    out, err = StringIO(), StringIO()
    call_command("bootstrap", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_first_run_imports_the_shipped_tasks_and_creates_an_administrator(project, engine_log):
    out, _err = bootstrap()
    task = Task.objects.get()
    assert (task.task_id, task.task_name, task.task_env["PARAM1"]) == ("test-task", "测试任务", "值1")
    password_file = project / ".admin_password"
    password = password_file.read_text().strip()
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert len(password) >= 20 and password in out
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert admin.groups.filter(name="admin").exists()
    log = "\n".join(engine_log)
    assert "Bootstrap: imported 1 task(s)" in log and "created the administrator 'admin'" in log
    assert password not in log


def test_each_first_run_gets_a_different_password(project):
    first, _ = bootstrap()
    first_password = (project / ".admin_password").read_text().strip()
    get_user_model().objects.all().delete()
    bootstrap()
    assert (project / ".admin_password").read_text().strip() != first_password


def test_a_second_run_changes_nothing(project, engine_log):
    bootstrap()
    password = (project / ".admin_password").read_text()
    Task.objects.filter(task_id="test-task").update(task_name="renamed since")
    (Path(django_settings.CONF_DIR) / "tasks.json").write_text(
        json.dumps({"tasks": []}), encoding="utf-8")  # even a different file is not imported again
    out, _err = bootstrap()
    assert out == ""
    assert Task.objects.get().task_name == "renamed since"
    assert (project / ".admin_password").read_text() == password
    assert get_user_model().objects.count() == 1
    assert "Bootstrap: an administrator exists; none created" in "\n".join(engine_log)


def test_an_existing_superuser_means_no_new_account_and_no_password_file(project, admin_user):
    bootstrap()
    assert not (project / ".admin_password").exists()
    assert list(get_user_model().objects.values_list("username", flat=True)) == [admin_user.username]


def test_a_plain_user_named_admin_is_not_taken_over(project):
    plain = get_user_model().objects.create_user("admin", password="theirs")
    _out, err = bootstrap()
    assert "a user named 'admin' exists already" in err
    plain.refresh_from_db()
    assert not plain.is_superuser and plain.check_password("theirs")
    assert not (project / ".admin_password").exists()


def test_an_empty_start_without_a_tasks_file_still_creates_the_administrator(project):
    (Path(django_settings.CONF_DIR) / "tasks.json").unlink()
    bootstrap()
    assert not Task.objects.exists()
    assert (project / ".admin_password").exists()


def test_an_invalid_tasks_file_stops_the_start_with_every_problem_listed(project):
    (Path(django_settings.CONF_DIR) / "tasks.json").write_text(json.dumps({"tasks": [
        {"task_id": "a", "task_name": "A", "task_exec": "tasks/missing.py", "task_schedule": "* * *"},
    ]}), encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError, match="was not imported: 2 problem"):
        call_command("bootstrap", stdout=StringIO(), stderr=err)
    assert "a: task_exec:" in err.getvalue() and "a: task_schedule:" in err.getvalue()
    assert not Task.objects.exists()


@pytest.mark.slow
def test_make_runs_first_start_steps_work_on_a_fresh_database_and_log_in_the_documents_format(tmp_path):
    """migrate + bootstrap as `make run` runs them, as real processes on a new SQLite file (conftest points
    CONF_DIR and LOGS_DIR at this test's folders through the environment)."""
    import os
    import re
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    shutil.copy(SHIPPED, Path(django_settings.CONF_DIR) / "tasks.json")
    password_file = tmp_path / "admin_password"

    def manage(*args):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=django_settings.BASE_DIR, env=env,
                              capture_output=True, text=True, timeout=300)

    assert manage("migrate", "--noinput").returncode == 0
    first = manage("bootstrap", "--password-file", str(password_file))
    assert first.returncode == 0, first.stderr
    password = password_file.read_text().strip()
    assert password in first.stdout and "Imported 1 task(s)" in first.stdout
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    second = manage("bootstrap", "--password-file", str(password_file))
    assert second.returncode == 0 and second.stdout == "" and password_file.read_text().strip() == password

    sys_log = (Path(django_settings.LOGS_DIR) / "sys.log").read_text(encoding="utf-8")
    line = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - INFO - SchedulerEngine - "
    assert re.search(line + r"Bootstrap: imported 1 task\(s\) from .*tasks\.json", sys_log, re.M)
    assert re.search(line + r"Bootstrap: created the administrator 'admin'", sys_log, re.M)
    assert re.search(line + r"Bootstrap: the database holds 1 task\(s\)", sys_log, re.M)
    assert password not in sys_log
