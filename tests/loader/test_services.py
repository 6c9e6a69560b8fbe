"""Task services: every change is validated, stored with its status row, bumps the change marker,
rewrites conf/tasks.json (keeping a backup) and is logged with who did it and where it came from (via)."""
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import time_machine
from django.conf import settings

from tasks_app.definition.loader import TaskValidationError
from tasks_app.models import ConfigVersion, Task, TaskStatus
from tasks_app.services import tasks as services

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 3, 1, 10, 1, 30, tzinfo=timezone.utc)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run the after-commit work (the conf/tasks.json mirror) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def tasks_json():
    return json.loads((Path(settings.CONF_DIR) / "tasks.json").read_text(encoding="utf-8"))


def backups():
    folder = Path(settings.BACKUPS_DIR)
    return sorted(folder.glob("tasks-*.json")) if folder.exists() else []


@time_machine.travel(NOW, tick=False)
def test_create_stores_the_task_and_its_next_run_and_bumps_the_marker(tasks_dir, minimal, commit):
    before = ConfigVersion.current()
    with commit():
        task = services.create_task(minimal("t1", task_timezone="UTC"), actor="alice", via="api")
    assert Task.objects.get(task_id="t1").task_log == "logs/task_t1.log"
    assert task.status.next_run_time == datetime(2024, 3, 1, 10, 5, tzinfo=timezone.utc)
    assert ConfigVersion.current() == before + 1
    assert [t["task_id"] for t in tasks_json()["tasks"]] == ["t1"]


def test_create_refuses_invalid_data_and_changes_nothing(tasks_dir, minimal, commit):
    before = ConfigVersion.current()
    with commit() as callbacks, pytest.raises(TaskValidationError) as caught:
        services.create_task(minimal("t1", task_schedule="every day"), actor="alice", via="web")
    assert "task_schedule" in caught.value.errors
    assert not Task.objects.exists() and not TaskStatus.objects.exists()
    assert ConfigVersion.current() == before and callbacks == []


def test_create_refuses_an_id_that_exists(tasks_dir, minimal):
    services.create_task(minimal("t1"), actor="alice", via="api")
    with pytest.raises(TaskValidationError, match='task_id "t1" already exists'):
        services.create_task(minimal("t1"), actor="bob", via="api")


def test_create_logs_who_and_via_what_and_only_env_names(tasks_dir, minimal, component_log):
    lines = component_log("SchedulerEngine")
    services.create_task(minimal("t1", task_env={"API_TOKEN": "tok-123456"}), actor="alice", via="web")
    assert "INFO - SchedulerEngine - Task t1 created by alice via web" in lines.text()
    assert "API_TOKEN" in lines.text() and "tok-123456" not in lines.text()


@time_machine.travel(NOW, tick=False)
def test_a_disabled_task_or_a_chain_task_has_no_next_run(tasks_dir, minimal):
    services.create_task(minimal("base"), actor="a", via="api")
    off = services.create_task(minimal("off", task_enabled=False), actor="a", via="api")
    chain = services.create_task(minimal("chain", task_schedule="", task_dependencies=["base"]), actor="a", via="api")
    assert TaskStatus.objects.get(task=off).next_run_time is None
    assert TaskStatus.objects.get(task=chain).next_run_time is None


@time_machine.travel(NOW, tick=False)
def test_the_next_run_follows_the_tasks_own_time_zone(tasks_dir, minimal):
    task = services.create_task(minimal("sh", task_schedule="0 9 * * *", task_timezone="Asia/Shanghai"),
                                actor="a", via="api")
    # 09:00 in Shanghai is 01:00 UTC; it is 10:01 UTC already, so the next is tomorrow.
    assert TaskStatus.objects.get(task=task).next_run_time == datetime(2024, 3, 2, 1, 0, tzinfo=timezone.utc)


def test_a_partial_update_changes_only_the_given_fields_and_logs_their_names(tasks_dir, minimal, commit,
                                                                             component_log):
    task = services.create_task(minimal("t1", task_retry=2, task_env={"A": "1", "B": "2"}), actor="a", via="api")
    lines = component_log("SchedulerEngine")
    before = ConfigVersion.current()
    with commit():
        services.update_task(task, {"task_env": {"A": "changed-secret", "C": "new-secret"}, "task_desc": "d"},
                             actor="bob", via="admin", partial=True)
    task.refresh_from_db()
    assert (task.task_retry, task.task_desc, task.task_env) == (2, "d", {"A": "changed-secret", "C": "new-secret"})
    assert ConfigVersion.current() == before + 1
    assert "Task t1 updated by bob via admin: changed task_desc, task_env (+C -B ~A)" in lines.text()
    assert "secret" not in lines.text()
    assert tasks_json()["tasks"][0]["task_desc"] == "d"


def test_a_full_update_resets_missing_fields_to_their_defaults(tasks_dir, minimal):
    task = services.create_task(minimal("t1", task_retry=2, task_desc="old"), actor="a", via="api")
    services.update_task(task, minimal("t1"), actor="a", via="api")
    task.refresh_from_db()
    assert (task.task_retry, task.task_desc) == (0, "")


def test_an_update_cannot_rename_a_task_and_invalid_updates_change_nothing(tasks_dir, minimal):
    task = services.create_task(minimal("t1"), actor="a", via="api")
    with pytest.raises(TaskValidationError, match="cannot be changed"):
        services.update_task(task, {"task_id": "t2"}, actor="a", via="api", partial=True)
    with pytest.raises(TaskValidationError) as caught:
        services.update_task(task, {"task_timeout": 0, "task_name": "new"}, actor="a", via="api", partial=True)
    assert set(caught.value.errors) == {"task_timeout"}
    task.refresh_from_db()
    assert task.task_name == "Task t1" and task.task_timeout is None


def test_an_update_without_changes_writes_nothing(tasks_dir, minimal, commit):
    task = services.create_task(minimal("t1"), actor="a", via="api")
    before = ConfigVersion.current()
    with commit() as callbacks:
        services.update_task(task, {"task_name": "Task t1"}, actor="a", via="api", partial=True)
    assert ConfigVersion.current() == before and callbacks == []


def test_an_update_cannot_make_a_dependency_cycle(tasks_dir, minimal):
    a = services.create_task(minimal("a"), actor="x", via="api")
    services.create_task(minimal("b", task_dependencies=["a"]), actor="x", via="api")
    with pytest.raises(TaskValidationError, match="cycle: a -> b -> a"):
        services.update_task(a, {"task_dependencies": ["b"]}, actor="x", via="api", partial=True)


def test_delete_is_refused_while_other_tasks_depend_on_the_task(tasks_dir, minimal):
    a = services.create_task(minimal("a"), actor="x", via="api")
    services.create_task(minimal("b", task_dependencies=["a"]), actor="x", via="api")
    services.create_task(minimal("c", task_schedule="", task_dependencies=["a"]), actor="x", via="api")
    with pytest.raises(TaskValidationError) as caught:
        services.delete_task(a, actor="x", via="api")
    assert caught.value.errors["task_dependencies"] == [
        'Task "a" cannot be deleted: b, c depend(s) on it. Remove it from their task_dependencies first.'
    ]
    assert Task.objects.filter(task_id="a").exists()


def test_delete_removes_the_task_bumps_the_marker_and_keeps_a_backup(tasks_dir, minimal, commit, component_log):
    with commit():
        services.create_task(minimal("keep"), actor="x", via="api")
    with commit():
        gone = services.create_task(minimal("gone"), actor="x", via="api")
    lines = component_log("SchedulerEngine")
    before = ConfigVersion.current()
    with commit():
        services.delete_task(gone, actor="carol", via="web")
    assert not Task.objects.filter(task_id="gone").exists()
    assert ConfigVersion.current() == before + 1
    assert [t["task_id"] for t in tasks_json()["tasks"]] == ["keep"]
    previous = json.loads(backups()[-1].read_text(encoding="utf-8"))
    assert [t["task_id"] for t in previous["tasks"]] == ["gone", "keep"]
    assert "Task gone deleted by carol via web" in lines.text()


@time_machine.travel(NOW, tick=False)
def test_set_enabled_switches_the_task_and_its_next_run_and_skips_a_no_op(tasks_dir, minimal, commit):
    task = services.create_task(minimal("t1"), actor="a", via="api")
    with commit():
        services.set_enabled(task, False, actor="a", via="web")
    assert task.task_enabled is False and TaskStatus.objects.get(task=task).next_run_time is None
    assert tasks_json()["tasks"][0]["task_enabled"] is False
    before = ConfigVersion.current()
    with commit() as callbacks:
        services.set_enabled(task, False, actor="a", via="web")
    assert ConfigVersion.current() == before and callbacks == []
    services.set_enabled(task, True, actor="a", via="web")
    assert TaskStatus.objects.get(task=task).next_run_time is not None
    with pytest.raises(TaskValidationError):
        services.set_enabled(task, "yes", actor="a", via="web")


def test_an_unknown_via_is_a_programming_error(tasks_dir, minimal):
    with pytest.raises(ValueError, match="via must be one of"):
        services.create_task(minimal("t1"), actor="a", via="telnet")
