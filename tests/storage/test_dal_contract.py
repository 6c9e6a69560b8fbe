"""One contract for both data access implementations: the Django models and the document's JSON files."""
import json
from datetime import datetime, timedelta, timezone

import pytest

from tasks_app.dal import DjangoTaskDataAccess, FileTaskDataAccess, TaskNotFound, domain
from tasks_app.definition.fields import TASK_FIELDS

pytestmark = pytest.mark.django_db

T0 = datetime(2023, 7, 17, 2, 30, 45, 123456, tzinfo=timezone.utc)


@pytest.fixture(params=["django", "file"])
def dal(request, tmp_path):
    if request.param == "django":
        return DjangoTaskDataAccess()
    return FileTaskDataAccess(tmp_path / "t.json", tmp_path / "h.json", tmp_path / "s.json")


def make_task(task_id="test-task", **overrides):
    values = dict(
        task_id=task_id,
        task_name="测试任务",
        task_desc="用于测试任务调度引擎的功能",
        task_exec="tasks/test_task.py",
        task_schedule="*/3 * * * *",
        task_timeout=300,
        task_retry=3,
        task_env={"TASK_NAME": "测试任务", "PARAM1": "值1"},
        task_dependencies=[],
        task_notify={"on_success": False, "on_failure": True, "email": "admin@example.com"},
    )
    values.update(overrides)
    return domain.Task(**values)


def test_it_starts_empty(dal):
    assert dal.get_all_tasks() == []
    assert dal.get_task_by_id("nope") is None
    assert dal.get_task_status("nope") is None
    assert dal.get_task_history("nope") == []


def test_it_round_trips_a_task_with_chinese_text(dal):
    task = make_task(task_timezone="Asia/Shanghai", task_overlap="queue", task_misfire_grace=5)
    saved = dal.save_task(task)
    assert saved == task
    assert dal.get_task_by_id("test-task") == task
    assert dal.get_task_by_id("test-task").task_env["TASK_NAME"] == "测试任务"
    assert dal.get_all_tasks() == [task]


def test_it_fills_the_documents_defaults(dal):
    dal.save_task(domain.Task(task_id="plain", task_name="p", task_exec="tasks/a.py", task_schedule="@daily"))
    got = dal.get_task_by_id("plain")
    assert got.task_log == "logs/task_plain.log"
    assert (got.task_timeout, got.task_retry, got.task_retry_interval, got.task_enabled) == (None, 0, 60, True)
    assert (got.task_env, got.task_dependencies, got.task_notify) == ({}, [], {})


def test_it_lists_tasks_ordered_by_id(dal):
    for task_id in ("b", "c", "a"):
        dal.save_task(make_task(task_id))
    assert [t.task_id for t in dal.get_all_tasks()] == ["a", "b", "c"]


def test_saving_an_existing_id_updates_the_task(dal):
    dal.save_task(make_task())
    dal.save_task(make_task(task_name="改名", task_enabled=False, task_dependencies=["other"]))
    tasks = dal.get_all_tasks()
    assert len(tasks) == 1
    assert (tasks[0].task_name, tasks[0].task_enabled, tasks[0].task_dependencies) == ("改名", False, ["other"])


def test_delete_removes_the_task_its_history_and_status(dal):
    dal.save_task(make_task("a"))
    dal.save_task(make_task("b"))
    run = dal.save_task_execution(domain.TaskExecution("a", None, T0))
    dal.update_task_status("a", {"running": True, "last_execution_id": run.execution_id})
    assert dal.delete_task("a") is True
    assert dal.get_task_by_id("a") is None
    assert dal.get_task_history("a") == []
    assert dal.get_task_status("a") is None
    assert [t.task_id for t in dal.get_all_tasks()] == ["b"]
    assert dal.delete_task("a") is False


def test_it_assigns_execution_ids_and_returns_history_newest_first_within_the_limit(dal):
    dal.save_task(make_task("a"))
    dal.save_task(make_task("b"))
    ids = []
    for i in range(12):
        run = dal.save_task_execution(domain.TaskExecution("a", None, T0 + timedelta(minutes=i)))
        ids.append(run.execution_id)
    other = dal.save_task_execution(domain.TaskExecution("b", None, T0))
    assert len(set(ids + [other.execution_id])) == 13
    assert ids == sorted(ids)
    history = dal.get_task_history("a")
    assert [e.execution_id for e in history] == ids[::-1][:10]
    assert [e.execution_id for e in dal.get_task_history("a", limit=3)] == ids[::-1][:3]
    assert [e.execution_id for e in dal.get_task_history("b")] == [other.execution_id]


def test_it_round_trips_an_execution_and_updates_it_in_place(dal):
    dal.save_task(make_task())
    run = dal.save_task_execution(domain.TaskExecution(
        "test-task", None, T0, scheduled_time=T0.replace(microsecond=0), trigger="schedule", attempt=1,
    ))
    assert run.execution_id is not None
    assert (run.status, run.start_time, run.end_time) == ("running", T0, None)
    run.status, run.end_time, run.return_code, run.duration = "failed", T0 + timedelta(seconds=2.5), 1, 2.5
    run.error_message = "退出码 1"
    dal.save_task_execution(run)
    (got,) = dal.get_task_history("test-task")
    assert got == run
    assert got.end_time.tzinfo is not None and got.end_time.utcoffset() == timedelta(0)


def test_times_given_in_another_zone_come_back_in_utc(dal):
    dal.save_task(make_task())
    shanghai = timezone(timedelta(hours=8))
    run = dal.save_task_execution(domain.TaskExecution("test-task", None, T0.astimezone(shanghai)))
    (got,) = dal.get_task_history("test-task")
    assert got.start_time == T0 and got.start_time.utcoffset() == timedelta(0)
    assert run.start_time == T0


def test_it_refuses_naive_times_and_executions_of_unknown_tasks(dal):
    dal.save_task(make_task())
    with pytest.raises(ValueError, match="start_time"):
        dal.save_task_execution(domain.TaskExecution("test-task", None, datetime(2023, 7, 17, 10, 30)))
    with pytest.raises(TaskNotFound, match="ghost"):
        dal.save_task_execution(domain.TaskExecution("ghost", None, T0))


def test_a_new_task_has_an_idle_status(dal):
    dal.save_task(make_task())
    assert dal.get_task_status("test-task") == {
        "running": False, "last_execution_id": None, "last_status": None,
        "last_start_time": None, "last_end_time": None, "next_run_time": None,
    }


def test_status_updates_merge_into_the_stored_status(dal):
    dal.save_task(make_task())
    run = dal.save_task_execution(domain.TaskExecution("test-task", None, T0))
    merged = dal.update_task_status("test-task", {
        "running": True, "last_execution_id": run.execution_id, "last_start_time": T0,
        "next_run_time": T0 + timedelta(minutes=3),
    })
    assert merged["running"] is True
    dal.update_task_status("test-task", {"running": False, "last_status": "success",
                                         "last_end_time": T0 + timedelta(seconds=2)})
    assert dal.get_task_status("test-task") == {
        "running": False, "last_execution_id": run.execution_id, "last_status": "success",
        "last_start_time": T0, "last_end_time": T0 + timedelta(seconds=2),
        "next_run_time": T0 + timedelta(minutes=3),
    }


def test_status_updates_refuse_unknown_fields_tasks_and_executions(dal):
    dal.save_task(make_task())
    with pytest.raises(ValueError, match="colour"):
        dal.update_task_status("test-task", {"colour": "red"})
    with pytest.raises(TaskNotFound):
        dal.update_task_status("ghost", {"running": True})
    with pytest.raises(ValueError, match="last_execution_id"):
        dal.update_task_status("test-task", {"last_execution_id": 999999})


# ---- the file implementation's format -----------------------------------------------------------------------

def test_the_file_implementation_reads_the_documents_example_as_it_is(shipped_file):
    files = FileTaskDataAccess(shipped_file, "unused-history.json", "unused-status.json")
    (task,) = files.get_all_tasks()
    assert (task.task_id, task.task_name, task.task_env["PARAM1"]) == ("test-task", "测试任务", "值1")
    assert (task.task_timezone, task.task_overlap, task.task_misfire_grace) == ("", "skip", 60)


def test_the_file_implementation_writes_the_documented_format(tmp_path):
    files = FileTaskDataAccess(tmp_path / "tasks.json", tmp_path / "task_history.json", tmp_path / "task_status.json")
    files.save_task(make_task())
    run = files.save_task_execution(domain.TaskExecution("test-task", None, T0, status="success", return_code=0))
    files.update_task_status("test-task", {"last_execution_id": run.execution_id, "last_status": "success",
                                           "next_run_time": T0})
    tasks_text = (tmp_path / "tasks.json").read_text(encoding="utf-8")
    assert '"task_name": "测试任务"' in tasks_text
    (entry,) = json.loads(tasks_text)["tasks"]
    assert list(entry) == list(TASK_FIELDS[:13])  # the additions are left out at their defaults
    history = json.loads((tmp_path / "task_history.json").read_text())
    assert history["last_execution_id"] == 1
    assert history["executions"][0]["start_time"] == "2023-07-17T02:30:45.123456+00:00"
    assert history["executions"][0]["task_id"] == "test-task"
    status = json.loads((tmp_path / "task_status.json").read_text())
    assert status == {"tasks": {"test-task": {
        "running": False, "last_execution_id": 1, "last_status": "success", "last_start_time": None,
        "last_end_time": None, "next_run_time": "2023-07-17T02:30:45.123456+00:00",
    }}}


def test_the_file_implementation_never_reuses_an_execution_id(tmp_path):
    files = FileTaskDataAccess(tmp_path / "t.json", tmp_path / "h.json", tmp_path / "s.json")
    files.save_task(make_task("a"))
    files.save_task(make_task("b"))
    files.save_task_execution(domain.TaskExecution("a", None, T0))
    files.save_task_execution(domain.TaskExecution("b", None, T0))
    files.delete_task("b")
    assert files.save_task_execution(domain.TaskExecution("a", None, T0)).execution_id == 3


def test_an_execution_id_that_was_never_assigned_is_refused(dal):
    dal.save_task(make_task())
    with pytest.raises(ValueError, match="execution_id"):
        dal.save_task_execution(domain.TaskExecution("test-task", 424242, T0))
    assert dal.get_task_history("test-task") == []
