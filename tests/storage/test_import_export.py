"""Import and export between the database and the document's tasks.json: round trip, all-or-nothing, dry run."""
import io
import json
import re

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tasks_app.definition.fields import task_to_dict
from tasks_app.definition.loader import TaskFileError
from tasks_app.models import ConfigVersion, Task, TaskStatus
from tasks_app.services import import_export

pytestmark = pytest.mark.django_db


def task(task_id, **overrides):
    data = {"task_id": task_id, "task_name": f"任务 {task_id}", "task_exec": "tasks/test_task.py",
            "task_schedule": "*/5 * * * *"}
    data.update(overrides)
    return data


def write(path, tasks):
    path.write_text(json.dumps({"tasks": tasks}, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def snapshot():
    """Everything an import could change: tasks, statuses, the change marker, conf/ and its backups."""
    conf = settings.CONF_DIR
    return (
        [task_to_dict(t) for t in Task.objects.order_by("task_id")],
        sorted(TaskStatus.objects.values_list("task__task_id", flat=True)),
        ConfigVersion.current(),
        sorted(str(p.relative_to(conf)) for p in conf.rglob("*") if p.suffix != ".lock"),
        (conf / "tasks.json").read_bytes() if (conf / "tasks.json").exists() else None,
    )


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# Five mistakes over three tasks, one of each kind the brief names.
BAD_TASKS = [
    task("bad-cron", task_schedule="61 * * * *", task_env={"1BAD": "x"}),
    {"task_id": "no-name", "task_exec": "tasks/test_task.py", "task_schedule": "@daily"},
    task("escapes", task_exec="../manage.py", task_dependencies=["ghost"]),
]
BAD_PREFIXES = [
    "bad-cron: task_schedule: ",
    "bad-cron: task_env: ",
    "no-name: task_name: ",
    "escapes: task_exec: ",
    "escapes: task_dependencies: ",
]


def test_importing_the_shipped_file_then_exporting_gives_back_the_same_bytes(shipped_file, tmp_path):
    out, _ = run("import_tasks", str(shipped_file))
    assert "created: test-task" in out
    exported = tmp_path / "exported.json"
    run("export_tasks", "--output", str(exported))
    assert exported.read_bytes() == shipped_file.read_bytes()
    text = exported.read_text(encoding="utf-8")
    assert '"task_name": "测试任务"' in text and "\\u" not in text
    # The mirror written by the import is the same file too.
    assert (settings.CONF_DIR / "tasks.json").read_bytes() == shipped_file.read_bytes()


def test_an_import_creates_statuses_with_the_next_run_and_bumps_the_change_marker(shipped_file, sys_log):
    before = ConfigVersion.current()
    import_export.import_tasks(shipped_file, actor="alice", via="import")
    status = TaskStatus.objects.get(task__task_id="test-task")
    assert status.next_run_time is not None and status.next_run_time.minute % 3 == 0
    assert ConfigVersion.current() == before + 1
    (line,) = [line for line in sys_log() if " - TaskLoader - Imported" in line]
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - INFO - TaskLoader - Imported 1 task\(s\) from .*tasks\.json "
                    r"by alice via import: 1 created, 0 updated, 0 deleted, 0 unchanged$", line)


def test_export_to_standard_output_with_history_and_status(shipped_file):
    import_export.import_tasks(shipped_file, actor="t", via="import")
    out, _ = run("export_tasks", "--output", "-", "--with-history", "--with-status")
    document = json.loads(out)
    assert [t["task_id"] for t in document["tasks"]] == ["test-task"]
    assert document["history"] == {"last_execution_id": 0, "executions": []}
    assert document["status"]["tasks"]["test-task"]["running"] is False
    assert "测试任务" in out


def test_export_writes_history_and_status_beside_the_tasks_file_in_the_document_names(shipped_file, tmp_path):
    import_export.import_tasks(shipped_file, actor="t", via="import")
    run("export_tasks", "-o", str(tmp_path / "tasks.json"), "--with-history", "--with-status")
    assert json.loads((tmp_path / "task_history.json").read_text())["executions"] == []
    assert list(json.loads((tmp_path / "task_status.json").read_text())["tasks"]) == ["test-task"]


def test_a_file_with_several_mistakes_is_refused_with_every_mistake_listed_and_nothing_changed(
    shipped_file, tmp_path, sys_log
):
    import_export.import_tasks(shipped_file, actor="t", via="import")
    before = snapshot()
    bad = write(tmp_path / "bad.json", [task("fine")] + BAD_TASKS)
    err = io.StringIO()
    with pytest.raises(CommandError, match="5 problem"):
        call_command("import_tasks", str(bad), "--replace", stderr=err, stdout=io.StringIO())
    lines = err.getvalue().splitlines()
    for prefix in BAD_PREFIXES:
        assert any(line.startswith(prefix) for line in lines), (prefix, lines)
    assert len(lines) == 5
    assert snapshot() == before
    assert any(" - WARNING - TaskLoader - Import of " in line and "refused, nothing changed: 5 problem(s)" in line
               for line in sys_log())


@pytest.mark.django_db(transaction=True)
def test_the_real_command_in_its_own_process_refuses_a_bad_file_and_exits_non_zero(shipped_file, tmp_path, manage_py):
    import_export.import_tasks(shipped_file, actor="t", via="import")
    before = snapshot()
    bad = write(tmp_path / "bad.json", BAD_TASKS)
    done = manage_py("import_tasks", str(bad))
    assert done.returncode != 0
    for prefix in BAD_PREFIXES:
        assert prefix in done.stderr, done.stderr
    assert "nothing was changed" in done.stderr
    assert snapshot() == before
    # The child did see the test database: a good file goes in.
    good = write(tmp_path / "good.json", [task("from-child", task_dependencies=["test-task"])])
    done = manage_py("import_tasks", str(good))
    assert done.returncode == 0, done.stderr
    assert "created: from-child" in done.stdout
    assert Task.objects.filter(task_id="from-child").exists()


def test_malformed_json_is_refused_with_its_line_and_column(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"tasks": [\n  {"task_id": "a",}\n]}', encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_tasks", str(bad), stderr=err, stdout=io.StringIO())
    assert "line 2" in err.getvalue() and "column" in err.getvalue()
    assert not Task.objects.exists()


def test_a_dry_run_reports_the_changes_and_changes_nothing(shipped_file, tmp_path):
    import_export.import_tasks(shipped_file, actor="t", via="import")
    before = snapshot()
    changed = json.loads(shipped_file.read_text(encoding="utf-8"))["tasks"][0]
    changed["task_name"] = "改过的名字"
    path = write(tmp_path / "new.json", [changed, task("extra")])
    out, _ = run("import_tasks", str(path), "--dry-run")
    assert "updated: test-task" in out and "created: extra" in out
    assert "Dry run, nothing changed" in out
    assert snapshot() == before


def test_import_reports_created_updated_unchanged_and_with_replace_deleted(tmp_path):
    import_export.import_tasks(write(tmp_path / "a.json", [task("a"), task("b"), task("c")]), actor="t", via="import")
    result = import_export.import_tasks(
        write(tmp_path / "b.json", [task("a"), task("b", task_retry=2), task("d")]),
        actor="t", via="import", replace=True,
    )
    assert (result.created, result.updated, result.deleted, result.unchanged) == (["d"], ["b"], ["c"], ["a"])
    assert sorted(Task.objects.values_list("task_id", flat=True)) == ["a", "b", "d"]
    assert Task.objects.get(task_id="b").task_retry == 2


def test_without_replace_the_file_may_depend_on_tasks_already_in_the_database(tmp_path):
    import_export.import_tasks(write(tmp_path / "a.json", [task("base")]), actor="t", via="import")
    result = import_export.import_tasks(write(tmp_path / "b.json", [task("child", task_dependencies=["base"])]),
                                       actor="t", via="import")
    assert result.created == ["child"] and result.deleted == []
    assert Task.objects.count() == 2


def test_with_replace_the_file_must_stand_on_its_own(tmp_path):
    import_export.import_tasks(write(tmp_path / "a.json", [task("base")]), actor="t", via="import")
    with pytest.raises(TaskFileError) as raised:
        import_export.import_tasks(write(tmp_path / "b.json", [task("child", task_dependencies=["base"])]),
                                  actor="t", via="import", replace=True)
    assert [(t, f) for t, f, _ in raised.value.problems] == [("child", "task_dependencies")]
    assert list(Task.objects.values_list("task_id", flat=True)) == ["base"]


def test_a_cycle_through_a_database_task_is_refused(tmp_path):
    import_export.import_tasks(write(tmp_path / "a.json", [task("a"), task("b", task_dependencies=["a"])]),
                              actor="t", via="import")
    with pytest.raises(TaskFileError) as raised:
        import_export.import_tasks(write(tmp_path / "b.json", [task("a", task_dependencies=["b"])]),
                                  actor="t", via="import")
    assert any(f == "task_dependencies" and "cycle" in m for _, f, m in raised.value.problems)


def test_importing_the_same_file_twice_changes_nothing_the_second_time(shipped_file):
    import_export.import_tasks(shipped_file, actor="t", via="import")
    before = snapshot()
    result = import_export.import_tasks(shipped_file, actor="t", via="import")
    assert result.unchanged == ["test-task"] and not result.changed
    assert snapshot() == before


def test_the_additions_to_the_documents_fields_are_written_only_when_set(tmp_path):
    import_export.import_tasks(write(tmp_path / "a.json", [task("plain"), task("zoned", task_timezone="Asia/Shanghai")]),
                              actor="t", via="import")
    written = json.loads((settings.CONF_DIR / "tasks.json").read_text(encoding="utf-8"))["tasks"]
    assert "task_timezone" not in written[0] and "task_overlap" not in written[0]
    assert written[1]["task_timezone"] == "Asia/Shanghai"
    assert list(written[0])[:13] == ["task_id", "task_name", "task_desc", "task_exec", "task_schedule",
                                     "task_timeout", "task_retry", "task_retry_interval", "task_enabled",
                                     "task_log", "task_env", "task_dependencies", "task_notify"]


def test_export_with_history_and_status_is_a_copy_into_the_file_implementation(shipped_file, tmp_path):
    from datetime import datetime, timedelta, timezone

    from tasks_app.dal import domain
    from tasks_app.dal import DjangoTaskDataAccess, FileTaskDataAccess

    db = DjangoTaskDataAccess()
    import_export.import_tasks(write(tmp_path / "in.json", [task("a"), task("b", task_env={"KEY": "值"})]),
                              actor="t", via="import")
    start = datetime(2025, 3, 10, 12, tzinfo=timezone.utc)
    for i in range(3):
        run = db.save_task_execution(domain.TaskExecution("a", None, start + timedelta(minutes=i), status="success"))
    db.update_task_status("a", {"last_execution_id": run.execution_id, "last_status": "success",
                                "last_start_time": start})
    out = tmp_path / "out"
    out.mkdir()
    run_args = ("export_tasks", "-o", str(out / "tasks.json"), "--with-history", "--with-status")
    call_command(*run_args, stdout=io.StringIO())
    files = FileTaskDataAccess(out / "tasks.json", out / "task_history.json", out / "task_status.json")
    assert files.get_all_tasks() == db.get_all_tasks()
    for task_id in ("a", "b"):
        assert files.get_task_by_id(task_id) == db.get_task_by_id(task_id)
        assert files.get_task_history(task_id) == db.get_task_history(task_id)
        assert files.get_task_status(task_id) == db.get_task_status(task_id)
