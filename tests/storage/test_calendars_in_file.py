"""Custom calendars in conf/tasks.json: written there with every change, as tasks are; brought back by import,
restore and bootstrap before the tasks that name them; a bad one refused naming the field and the value, and
nothing changed; none ever deleted by a file (an older file without them takes nothing away)."""
import io
import json

import pytest
from auditlog.models import LogEntry
from django.conf import settings
from django.core.management import call_command

from tasks_app.dal.file_dal import FileTaskDataAccess
from tasks_app.definition.loader import TaskFileError
from tasks_app.models import Calendar, Task
from tasks_app.services import calendars as calendar_services
from tasks_app.services import import_export
from tasks_app.services.tasks import create_task, delete_task

pytestmark = pytest.mark.django_db

OPS = {"name": "ops", "description": "Ops days", "base": "cn-workdays", "added_dates": ["2025-10-12"],
       "ranges": [{"start": "2025-10-20", "end": "2025-10-24", "label": "freeze"}]}


def task(task_id, **overrides):
    return {"task_id": task_id, "task_name": task_id, "task_exec": "tasks/test_task.py",
            "task_schedule": "0 9 * * *", **overrides}


def in_file():
    return json.loads((settings.CONF_DIR / "tasks.json").read_text(encoding="utf-8"))


def test_a_custom_calendar_is_written_to_conf_tasks_json_with_each_change(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        create_task(task("report"), actor="ada", via="api")
    assert "calendars" not in in_file()  # a file without custom calendars stays as it was
    with django_capture_on_commit_callbacks(execute=True):
        made = calendar_services.create_calendar(OPS, actor="ada", via="api")
    assert in_file()["calendars"] == [OPS]  # the name, then only the fields that are set
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.update_calendar(made, {"removed_dates": ["2025-10-09"]}, actor="ada", via="api")
    assert in_file()["calendars"][0]["removed_dates"] == ["2025-10-09"]
    with django_capture_on_commit_callbacks(execute=True):
        calendar_services.delete_calendar(made, actor="ada", via="api")
    assert "calendars" not in in_file() and [t["task_id"] for t in in_file()["tasks"]] == ["report"]


def test_a_file_brings_its_calendars_into_an_empty_database_before_the_tasks_that_name_them(tmp_path):
    calendar_services.create_calendar(OPS, actor="ada", via="api")
    create_task(task("report", task_calendar="ops"), actor="ada", via="api")
    exported = tmp_path / "tasks.json"
    call_command("export_tasks", "--output", str(exported), stdout=io.StringIO())
    delete_task(Task.objects.get(task_id="report"), actor="ada", via="api")
    Calendar.objects.all().delete()

    out = io.StringIO()
    call_command("import_tasks", str(exported), stdout=out)
    assert "calendar created: ops" in out.getvalue() and "created: report" in out.getvalue()
    assert Calendar.objects.get().file_entry() == OPS
    assert Task.objects.get().task_calendar == "ops"
    assert LogEntry.objects.filter(additional_data__event="calendar.created").count() == 2  # by hand, by import
    again = tmp_path / "again.json"
    call_command("export_tasks", "--output", str(again), stdout=io.StringIO())
    assert again.read_bytes() == exported.read_bytes()
    # The same file once more changes nothing.
    assert not import_export.import_tasks(exported, actor="ada", via="import").changed


def test_a_bad_calendar_in_the_file_is_refused_naming_the_field_and_the_value_and_nothing_changes(tmp_path):
    calendar_services.create_calendar(OPS, actor="ada", via="api")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"tasks": [task("report", task_calendar="mars"), task("ok", task_calendar="ops")],
                                "calendars": [{**OPS, "base": "martian-workdays", "ranges": [
                                                  {"start": "2025-10-24", "end": "2025-10-20"}]},
                                              {"name": "x y"}, "ops", {"name": "ops"}]}), encoding="utf-8")
    before = (settings.CONF_DIR / "tasks.json").read_bytes() if (settings.CONF_DIR / "tasks.json").exists() else None
    with pytest.raises(TaskFileError) as caught:
        import_export.import_tasks(path, actor="ada", via="import")
    problems = {field: message for _task, field, message in caught.value.problems}
    assert "martian-workdays" in problems["calendars[0].base"]
    assert "ends before it starts" in problems["calendars[0].ranges"]
    assert "x y" in problems["calendars[1].name"]
    assert 'got "ops"' in problems["calendars[2]"] and "twice" in problems["calendars[3].name"]
    assert "mars" in problems["task_calendar"]  # the tasks' own problems are listed too
    assert Calendar.objects.get().file_entry() == OPS and not Task.objects.exists()
    current = (settings.CONF_DIR / "tasks.json").read_bytes() if (settings.CONF_DIR / "tasks.json").exists() else None
    assert current == before
    with pytest.raises(TaskFileError) as caught:
        import_export.import_tasks({"tasks": [], "calendars": {"name": "ops"}}, actor="ada", via="import")
    assert caught.value.problems[0][1] == "calendars"


def test_a_file_without_calendars_takes_none_away_even_with_replace(tmp_path):
    calendar_services.create_calendar(OPS, actor="ada", via="api")
    create_task(task("old"), actor="ada", via="api")
    path = tmp_path / "older.json"
    path.write_text(json.dumps({"tasks": [task("new")]}), encoding="utf-8")
    result = import_export.import_tasks(path, replace=True, actor="ada", via="restore")
    assert result.deleted == ["old"] and Calendar.objects.get().name == "ops"
    assert in_file()["calendars"] == [OPS]


def test_the_file_implementation_keeps_the_calendars_of_the_file_it_rewrites(tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"tasks": [], "calendars": [OPS]}), encoding="utf-8")
    dal = FileTaskDataAccess(path, tmp_path / "task_history.json", tmp_path / "task_status.json")
    from tasks_app.dal import domain

    dal.save_task(domain.Task(**{**task("report"), "task_calendar": "ops"}))
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["calendars"] == [OPS] and saved["tasks"][0]["task_calendar"] == "ops"
