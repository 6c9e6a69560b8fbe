"""A task's versions: numbered 1, 2, 3 per task, each a whole configuration; any two compared side by side; any
one restored by an operator through the page or the API, as an audited change that is validated, mirrored to
conf/tasks.json and signalled to the scheduler by the change marker."""
import json

import pytest

from tasks_app.audit import events, versions
from tasks_app.models import ConfigVersion, Task
from tasks_app.services import tasks as services

from .conftest import example, last


def edit(task, **fields):
    return services.update_task(task, fields, actor="otto", via="web", partial=True)


def mirrored(settings, task_id):
    document = json.loads((settings.CONF_DIR / "tasks.json").read_text(encoding="utf-8"))
    return next(item for item in document["tasks"] if item["task_id"] == task_id)


def test_each_change_of_the_configuration_is_the_next_version_holding_the_whole_configuration(make_task):
    task = make_task()
    edit(task, task_schedule="0 6 * * *")
    services.set_enabled(task, False, actor="otto", via="api")
    entries = list(versions.version_entries("audited"))
    assert [versions.number_of(e) for e in entries] == [3, 2, 1]
    assert entries[1].serialized_data["task_schedule"] == "0 6 * * *" and entries[1].serialized_data["task_enabled"]
    assert entries[0].serialized_data["task_enabled"] is False
    assert [field for field, *_rest, differs in versions.compare(entries[2], entries[0]) if differs] == [
        "task_schedule", "task_enabled"]


def test_a_task_that_existed_before_auditing_gets_its_configuration_as_found_for_version_one(db):
    task = Task.objects.create(**{**example(task_id="old", task_log="logs/task_old.log")})
    edit(task, task_retry=9)
    found, changed = list(versions.version_entries("old"))[::-1]
    assert versions.number_of(found) == 1 and found.additional_data["event"] == events.TASK_RECORDED
    assert found.additional_data["actor"] == "system" and found.serialized_data["task_retry"] == 3
    assert versions.number_of(changed) == 2 and changed.changes == {"task_retry": [3, 9]}


def test_the_page_lists_the_versions_and_compares_any_two_with_the_differences_marked(page_as, make_task):
    task = make_task()
    edit(task, task_schedule="0 6 * * *")
    edit(task, task_desc="third")
    page = page_as("viewer").get("/tasks/audited/versions?a=1&b=3")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="table-warning differs"') == 2  # task_desc and task_schedule
    assert 'data-version="3"' in html and 'data-version="1"' in html
    assert "Restore this version" not in html  # viewers may not restore
    assert "version 3" in page_as("viewer").get("/tasks/audited/versions").content.decode()  # the latest two
    bad = page_as("viewer").get("/tasks/audited/versions?a=0&b=x")
    assert bad.status_code == 200 and "a must be between 1 and 3" in bad.content.decode()


def test_a_version_restored_on_the_page_is_validated_mirrored_marked_for_the_scheduler_and_audited(
        page_as, make_task, settings, django_capture_on_commit_callbacks):
    task = make_task()
    edit(task, task_schedule="0 6 * * *", task_retry=1)
    marker = ConfigVersion.current()
    operator = page_as("operator")
    assert "Restore this version" in operator.get("/tasks/audited/versions").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        answer = operator.post("/tasks/audited/versions/1/restore", follow=True)
    assert "Version 1 of audited restored: it is now version 3." in answer.content.decode()
    task.refresh_from_db()
    assert (task.task_schedule, task.task_retry) == ("*/3 * * * *", 3)
    assert ConfigVersion.current() > marker
    assert mirrored(settings, "audited")["task_schedule"] == "*/3 * * * *"
    restored = last(task="audited")
    assert (restored["action"], restored["version"], restored["details"]) == (
        events.VERSION_RESTORED, 3, {"restored_version": 1})
    assert (restored["actor"], restored["via"]) == ("otto", "web")
    assert restored["changes"] == {"task_schedule": ["0 6 * * *", "*/3 * * * *"], "task_retry": [1, 3]}


def test_restoring_a_version_the_task_already_is_changes_nothing(page_as, make_task):
    make_task()
    answer = page_as("operator").post("/tasks/audited/versions/1/restore", follow=True)
    assert "already what version 1 was" in answer.content.decode()
    assert versions.latest_number("audited") == 1


def test_a_version_that_is_no_longer_valid_is_refused_naming_the_field(page_as, api_as, make_task):
    make_task("base")
    task = make_task(task_dependencies=["base"])
    edit(task, task_dependencies=[])
    services.delete_task(Task.objects.get(task_id="base"), actor="ada", via="web")
    answer = page_as("operator").post("/tasks/audited/versions/1/restore", follow=True)
    assert "Version 1 cannot be restored" in answer.content.decode() and "base" in answer.content.decode()
    refused = api_as("operator").post("/api/tasks/audited/versions/1/restore")
    assert refused.status_code == 400 and "task_dependencies" in refused.json()
    assert versions.latest_number("audited") == 2


def test_the_api_lists_versions_and_restores_one_for_operators_only(api_as, make_task, settings,
                                                                   django_capture_on_commit_callbacks):
    task = make_task()
    edit(task, task_timeout=30)
    listed = api_as("viewer").get("/api/tasks/audited/versions").json()
    assert listed["count"] == 2 and [v["version"] for v in listed["results"]] == [2, 1]
    assert listed["results"][0]["config"]["task_timeout"] == 30 and listed["results"][1]["action"] == "task.created"
    assert api_as("viewer").post("/api/tasks/audited/versions/1/restore").status_code == 403
    marker = ConfigVersion.current()
    with django_capture_on_commit_callbacks(execute=True):
        answer = api_as("operator", key_name="rollback").post("/api/tasks/audited/versions/1/restore")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["restored_version"], body["version"], body["changed"]) == (1, 3, True)
    assert body["task"]["task_timeout"] == 300
    assert ConfigVersion.current() > marker and mirrored(settings, "audited")["task_timeout"] == 300
    restored = last(task="audited")
    assert restored["via"] == "api" and restored["key"].startswith("rollback (")
    again = api_as("operator").post("/api/tasks/audited/versions/1/restore").json()
    assert (again["version"], again["changed"]) == (3, False)


@pytest.mark.parametrize("path", ["/api/tasks/audited/versions/7/restore", "/api/tasks/nothing/versions/1/restore",
                                  "/api/tasks/audited/versions/0/restore"])
def test_restoring_a_version_that_does_not_exist_is_a_404(api_as, make_task, path):
    make_task()
    answer = api_as("operator").post(path)
    assert answer.status_code == 404 and "detail" in answer.json()


def test_a_task_deleted_and_created_again_goes_on_counting(make_task):
    task = make_task()
    services.delete_task(task, actor="ada", via="web")
    make_task()
    assert versions.latest_number("audited") == 2


def test_a_tasks_versions_are_found_through_its_own_entries_not_by_walking_every_tasks(make_task):
    from django.db import connection

    task = make_task()
    edit(task, task_desc="one")
    query = versions.version_entries("audited").only("additional_data")[:1]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(("EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ") + sql, params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    if connection.vendor == "sqlite":  # PostgreSQL chooses by its statistics; SQLite has none unless ANALYZEd
        assert "object_pk" in plan and "content_type_id" not in plan, plan
    assert versions.latest_number("audited") == 2


def test_the_latest_number_is_the_one_the_orm_reads_and_its_statement_is_compiled_once(make_task, monkeypatch):
    from auditlog.models import LogEntry
    from django.db import connections
    from django.db.models.sql.compiler import SQLCompiler

    def by_the_orm(task_id):
        entry = versions.version_entries(task_id).only("additional_data").first()
        return entry.additional_data["version"] if entry else 0

    task = make_task()
    edit(task, task_retry=4)
    edit(task, task_retry=5)
    make_task("other")
    # An entry without a version (not a change of the configuration), newer than the versions.
    LogEntry.objects.create(content_type=versions.task_entries("audited").first().content_type, object_pk="audited",
                            object_repr="audited", action=LogEntry.Action.ACCESS, additional_data={"event": "seen"})
    compile_sql = SQLCompiler.as_sql
    compiled = []
    monkeypatch.setattr(SQLCompiler, "as_sql", lambda self, *a, **k: compiled.append(1) or compile_sql(self, *a, **k))
    assert [versions.latest_number(t) for t in ("audited", "never-audited", "other")] == [3, 0, 1]
    assert [by_the_orm(t) for t in ("audited", "never-audited", "other")] == [3, 0, 1]
    compiled.clear()
    assert versions.latest_number("audited") == 3 and compiled == []  # not compiled again on this connection
    connections["default"].__dict__["prepared_statements"].pop(versions.latest_number)
    assert versions.latest_number("audited") == 3 and compiled == [1]
