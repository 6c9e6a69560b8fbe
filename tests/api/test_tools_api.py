"""Cron preview, export / import of the tasks.json format (all or nothing), backups and restore."""
import json

import pytest

from tasks_app.conffile import backups
from tasks_app.models import Calendar, Task
from tasks_app.services.tasks import create_task, update_task

from .conftest import DOCUMENT_EXAMPLE_TASK, simple_task

pytestmark = pytest.mark.django_db


def test_cron_preview_lists_fire_times_in_the_zone_and_describes_in_english(viewer_client):
    response = viewer_client.get("/api/cron/preview", {"expr": "*/3 * * * *", "tz": "Asia/Shanghai", "count": 3,
                                                       "after": "2024-01-01T00:00:00+08:00"},
                                 HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response.json() == {
        "expression": "*/3 * * * *",
        "description": "Every 3 minutes",
        "timezone": "Asia/Shanghai",
        "calendar": None,
        "next_run_times": ["2024-01-01T00:03:00+08:00", "2024-01-01T00:06:00+08:00", "2024-01-01T00:09:00+08:00"],
    }


def test_cron_preview_describes_in_chinese_for_zh_hans(viewer_client):
    response = viewer_client.get("/api/cron/preview", {"expr": "30 2 * * 1"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    description = response.json()["description"]
    assert "星期一" in description and "02:30" in description
    english = viewer_client.get("/api/cron/preview", {"expr": "30 2 * * 1"}, HTTP_ACCEPT_LANGUAGE="en").json()
    assert "Monday" in english["description"]


@pytest.mark.parametrize("params, field, text", [
    ({"expr": "61 * * * *"}, "expr", "minute"),
    ({"expr": "* * *"}, "expr", "expected 5 fields"),
    ({}, "expr", "required"),
    ({"expr": "* * * * *", "tz": "Nowhere/City"}, "tz", "Nowhere/City"),
    ({"expr": "* * * * *", "count": "0"}, "count", "between 1 and 100"),
    ({"expr": "* * * * *", "count": "1000"}, "count", "between 1 and 100"),
    ({"expr": "* * * * *", "after": "soon"}, "after", "ISO 8601"),
    ({"expr": "* * * * *", "after": "9999-12-31T23:59:59"}, "after", "out of range"),
])
def test_cron_preview_refuses_bad_input_with_a_400_naming_the_field(viewer_client, params, field, text):
    response = viewer_client.get("/api/cron/preview", params)
    assert response.status_code == 400
    assert field in response.json() and text in response.json()[field][0]


def test_a_bad_expression_also_names_the_cron_field_that_is_wrong(viewer_client):
    response = viewer_client.get("/api/cron/preview", {"expr": "0 25 * * *"})
    assert response.json()["field"] == ["hour"]


def test_export_gives_the_tasks_json_format(viewer_client):
    create_task(DOCUMENT_EXAMPLE_TASK, actor="t", via="cli")
    document = viewer_client.get("/api/export").json()
    assert list(document) == ["tasks"]
    assert {k: document["tasks"][0][k] for k in DOCUMENT_EXAMPLE_TASK} == DOCUMENT_EXAMPLE_TASK


def test_import_creates_updates_and_with_dry_run_changes_nothing(admin_client):
    create_task(simple_task("old"), actor="t", via="cli")
    document = {"tasks": [DOCUMENT_EXAMPLE_TASK, simple_task("old", task_name="Renamed")]}
    dry = admin_client.post("/api/import?dry_run=true", document, format="json")
    assert dry.status_code == 200
    assert dry.json() == {"dry_run": True, "replace": False, "created": ["test-task"], "updated": ["old"],
                          "deleted": [], "unchanged": [], "calendars_created": [], "calendars_updated": []}
    assert not Task.objects.filter(task_id="test-task").exists()
    done = admin_client.post("/api/import", document, format="json")
    assert done.status_code == 200 and done.json()["created"] == ["test-task"]
    assert Task.objects.get(task_id="old").task_name == "Renamed"
    replaced = admin_client.post("/api/import?replace=true", {"tasks": [DOCUMENT_EXAMPLE_TASK]}, format="json")
    assert replaced.json()["deleted"] == ["old"] and replaced.json()["unchanged"] == ["test-task"]


def test_import_is_all_or_nothing_and_lists_every_problem(admin_client):
    create_task(simple_task("keep"), actor="t", via="cli")
    document = {"tasks": [
        simple_task("fine"),
        simple_task("bad-cron", task_schedule="* * * *"),
        simple_task("bad-exec", task_exec="/bin/sh", task_retry=-1),
        simple_task("fine"),
    ]}
    response = admin_client.post("/api/import?replace=true", document, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "nothing was imported" in body["detail"]
    problems = {(p["task_id"], p["field"]) for p in body["problems"]}
    assert problems == {("bad-cron", "task_schedule"), ("bad-exec", "task_exec"), ("bad-exec", "task_retry"),
                        ("fine", "task_id")}
    assert list(Task.objects.values_list("task_id", flat=True)) == ["keep"]


def test_the_api_exports_and_imports_custom_calendars_with_the_tasks_and_names_a_bad_one(admin_client):
    ops = {"name": "ops", "base": "weekdays", "removed_dates": ["2025-10-09"]}
    document = {"tasks": [simple_task("report", task_calendar="ops")], "calendars": [ops]}
    done = admin_client.post("/api/import", document, format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["calendars_created"] == ["ops"] and done.json()["created"] == ["report"]
    assert admin_client.get("/api/export").json()["calendars"] == [ops]
    bad = admin_client.post("/api/import", {"tasks": [], "calendars": [{**ops, "added_dates": ["10/12"]}]},
                            format="json")
    assert bad.status_code == 400
    assert bad.json()["problems"] == [{"task_id": "", "field": "calendars[0].added_dates", "message":
                                       'added_dates item "10/12" is not a date such as "2025-10-11".'}]
    assert Calendar.objects.get().added_dates == []


@pytest.mark.parametrize("body", [[], {"tasks": "x"}, {"task": []}, {"tasks": [], "extra": 1}])
def test_import_refuses_a_body_not_in_the_tasks_json_format(admin_client, body):
    response = admin_client.post("/api/import", body, format="json")
    assert response.status_code == 400 and response.json()


def test_backups_are_listed_and_one_can_be_restored(admin_client, django_capture_on_commit_callbacks):
    # conf/tasks.json is rewritten (after a backup) once the change is committed.
    with django_capture_on_commit_callbacks(execute=True):
        task = create_task(simple_task("first"), actor="t", via="cli")
    with django_capture_on_commit_callbacks(execute=True):
        update_task(task, {"task_name": "Second version"}, actor="t", via="cli", partial=True)
    listed = admin_client.get("/api/backups").json()
    assert listed and {"name", "created_at", "size", "task_count"} <= set(listed[0])
    oldest = listed[-1]["name"]
    saved = json.loads(backups.find_backup(oldest).path.read_text())
    assert saved["tasks"][0]["task_name"] == "Task first"
    response = admin_client.post(f"/api/backups/{oldest}/restore")
    assert response.status_code == 200, response.json()
    assert response.json()["updated"] == ["first"]
    assert Task.objects.get(task_id="first").task_name == "Task first"


@pytest.mark.parametrize("name", ["nope.json", "..%2Ftasks.json", "tasks-20240101T000000.000000Z.json"])
def test_restoring_an_unknown_backup_is_a_404(admin_client, name):
    response = admin_client.post(f"/api/backups/{name}/restore")
    assert response.status_code == 404 and response.json()["detail"]


def test_import_of_a_path_too_long_for_the_file_system_is_a_400_not_a_500(admin_client):
    response = admin_client.post("/api/import", {"tasks": [simple_task("a", task_exec="x" * 300)]}, format="json")
    assert response.status_code == 400 and response.json()["problems"]
    assert not Task.objects.exists()
