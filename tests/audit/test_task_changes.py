"""Every change to a task is an audit entry, whichever way it came: who, when, through what, from which address,
and what changed field by field, through the API, the pages, the admin and the commands."""
import json

from django.core.management import call_command

from tasks_app.audit import events
from tasks_app.conffile import backups
from tasks_app.models import Task

from tests.admin.conftest import form_data as admin_form

from .conftest import entries, form_data, last


def simple(task_id="api-task", **fields):
    return {"task_id": task_id, "task_name": f"Task {task_id}", "task_exec": "tasks/test_task.py",
            "task_schedule": "*/5 * * * *", **fields}


# ---- the API ---------------------------------------------------------------------------------------------------

def test_a_task_created_edited_disabled_and_deleted_through_the_api_leaves_who_key_address_and_changes(api_as):
    api = api_as("admin", key_name="deploy script")
    assert api.post("/api/tasks", simple(), format="json").status_code == 201
    created = last(task="api-task")
    assert created["action"] == events.TASK_CREATED and created["version"] == 1
    assert (created["actor"], created["via"], created["address"]) == ("ada", "api", "127.0.0.1")
    assert created["key"].startswith("deploy script (tsk_")
    assert created["changes"]["task_schedule"] == [None, "*/5 * * * *"]

    assert api.patch("/api/tasks/api-task", {"task_schedule": "0 6 * * *", "task_retry": 2},
                     format="json").status_code == 200
    edited = last(task="api-task")
    assert edited["action"] == events.TASK_UPDATED and edited["version"] == 2
    assert edited["changes"] == {"task_schedule": ["*/5 * * * *", "0 6 * * *"], "task_retry": [0, 2]}

    assert api.patch("/api/tasks/api-task", {"task_enabled": False}, format="json").status_code == 200
    disabled = last(task="api-task")
    assert (disabled["action"], disabled["version"]) == (events.TASK_DISABLED, 3)
    assert disabled["changes"] == {"task_enabled": [True, False]}

    assert api.delete("/api/tasks/api-task").status_code == 204
    deleted = last(task="api-task")
    assert deleted["action"] == events.TASK_DELETED and deleted["version"] is None
    assert deleted["changes"]["task_schedule"] == ["0 6 * * *", None]


def test_a_save_that_changes_nothing_writes_no_entry(api_as):
    api = api_as("operator")
    api.post("/api/tasks", simple(), format="json")
    count = len(entries(task="api-task"))
    assert api.patch("/api/tasks/api-task", {"task_retry": 0}, format="json").status_code == 200
    assert len(entries(task="api-task")) == count


def test_runs_started_by_hand_and_stopped_through_the_api_are_entries_about_the_task(api_as, make_task):
    make_task("runner")
    api = api_as("operator", key_name="")
    answer = api.post("/api/tasks/runner/execute")
    assert answer.status_code == 202
    requested = last(task="runner")
    assert requested["action"] == events.RUN_REQUESTED and requested["details"] == {
        "execution": answer.json()["execution_id"]}
    assert requested["key"].startswith("tsk_") and requested["key"].endswith("…")
    assert api.post("/api/tasks/runner/stop").status_code == 202
    stopped = last(task="runner")
    assert stopped["action"] == events.RUN_STOPPED
    assert stopped["details"] == {"running": [], "cancelled": [answer.json()["execution_id"]]}
    assert (stopped["actor"], stopped["via"]) == ("otto", "api")


def test_an_import_and_a_backup_restore_through_the_api_make_one_entry_per_task_sharing_a_correlation_id(api_as):
    api = api_as("admin")
    body = {"tasks": [simple("one"), simple("two")]}
    assert api.post("/api/import", body, format="json").status_code == 200
    one, two = last(task="one"), last(task="two")
    assert one["action"] == two["action"] == events.TASK_IMPORTED
    assert one["correlation_id"] and one["correlation_id"] == two["correlation_id"]
    assert one["details"] == {"source": "API request"} and one["via"] == "api"

    body = {"tasks": [simple("one", task_retry=5)]}
    assert api.post("/api/import?replace=true", body, format="json").status_code == 200
    assert last(task="one")["changes"] == {"task_retry": [0, 5]} and last(task="one")["version"] == 2
    assert last(task="two")["action"] == events.TASK_DELETED

    backup = api.get("/api/backups").json()[-1]["name"]  # the oldest: one and two as first imported
    assert api.post(f"/api/backups/{backup}/restore").status_code == 200
    restored = last(task="two")
    assert restored["action"] == events.TASK_RESTORED and restored["details"] == {"backup": backup}
    assert restored["version"] == 2  # a task deleted and restored goes on counting
    assert last(task="one")["changes"] == {"task_retry": [5, 0]}


def test_the_address_is_the_connections_unless_trusted_proxies_say_otherwise(api_as, settings):
    api = api_as("operator")
    api.post("/api/tasks", simple("a"), format="json", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert last(task="a")["address"] == "127.0.0.1"  # anyone could write that header
    settings.DJANGO_PROXY_COUNT = 1
    api.post("/api/tasks", simple("b"), format="json", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7")
    assert last(task="b")["address"] == "198.51.100.7"
    api.post("/api/tasks", simple("c"), format="json", HTTP_X_FORWARDED_FOR="not-an-address")
    assert last(task="c")["address"] is None


# ---- the pages -------------------------------------------------------------------------------------------------

def test_tasks_created_edited_enabled_run_stopped_and_deleted_on_the_pages_are_entries_via_web(page_as):
    page = page_as("operator")
    assert page.post("/tasks/new", form_data()).status_code == 302
    assert last(task="nightly")["action"] == events.TASK_CREATED
    assert page.post("/tasks/nightly/edit", form_data(task_schedule="45 2 * * *")).status_code == 302
    edited = last(task="nightly")
    assert edited["changes"] == {"task_schedule": ["30 2 * * *", "45 2 * * *"]}
    assert (edited["actor"], edited["via"], edited["address"], edited["key"]) == ("otto", "web", "127.0.0.1", None)
    page.post("/tasks/nightly/disable")
    page.post("/tasks/nightly/enable")
    assert [e["action"] for e in entries(task="nightly")[:2]] == [events.TASK_ENABLED,
                                                                                     events.TASK_DISABLED]
    page.post("/tasks/nightly/run")
    page.post("/tasks/nightly/stop")
    assert last(task="nightly")["action"] == events.RUN_STOPPED
    admin = page_as("admin")
    assert admin.post("/tasks/nightly/delete").status_code == 302
    assert (last(task="nightly")["action"], last(task="nightly")["actor"]) == (events.TASK_DELETED, "ada")


# ---- the admin ---------------------------------------------------------------------------------------------------

def test_changes_made_in_the_admin_are_entries_via_admin(page_as):
    admin = page_as("admin")
    assert admin.post("/admin/tasks_app/task/add/", admin_form(task_id="in-admin")).status_code == 302
    assert (last(task="in-admin")["action"], last(task="in-admin")["via"]) == (events.TASK_CREATED, "admin")
    task = Task.objects.get(task_id="in-admin")
    answer = admin.post(f"/admin/tasks_app/task/{task.pk}/change/", admin_form(task_id=None, task_retry="4"))
    assert answer.status_code == 302
    edited = last(task="in-admin")
    assert (edited["action"], edited["via"], edited["actor"]) == (events.TASK_UPDATED, "admin", "ada")
    assert edited["changes"] == {"task_retry": [0, 4]}
    admin.post("/admin/tasks_app/task/", {"action": "disable_tasks", "_selected_action": [task.pk]})
    assert last(task="in-admin")["action"] == events.TASK_DISABLED
    admin.post("/admin/tasks_app/task/", {"action": "run_now", "_selected_action": [task.pk]})
    assert (last(task="in-admin")["action"], last(task="in-admin")["via"]) == (events.RUN_REQUESTED, "admin")
    admin.post(f"/admin/tasks_app/task/{task.pk}/delete/", {"post": "yes"})
    assert not Task.objects.filter(task_id="in-admin").exists()
    assert last(task="in-admin")["action"] == events.TASK_DELETED


# ---- the commands ------------------------------------------------------------------------------------------------

def test_commands_name_who_ran_them_and_bootstrap_names_itself(tmp_path, db, settings):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"tasks": [simple("from-file")]}))
    call_command("import_tasks", str(path))
    imported = last(task="from-file")
    assert imported["action"] == events.TASK_IMPORTED and imported["via"] == "import"
    assert imported["actor"] and imported["address"] is None and imported["details"] == {"source": str(path)}

    path.write_text(json.dumps({"tasks": [simple("from-file", task_retry=4)]}))
    call_command("import_tasks", str(path))
    backup = backups.list_backups()[0].name  # the file before the second import
    call_command("restore_tasks", backup)
    restored = last(task="from-file")
    assert (restored["action"], restored["via"], restored["version"]) == (events.TASK_RESTORED, "restore", 3)
    assert restored["changes"] == {"task_retry": [4, 0]} and restored["details"] == {"backup": backup}

    Task.objects.all().delete()
    (settings.CONF_DIR / "tasks.json").write_text(json.dumps({"tasks": [simple("booted")]}))
    call_command("bootstrap", password_file=tmp_path / "pw")
    booted = last(task="booted")
    assert (booted["actor"], booted["via"], booted["action"]) == ("bootstrap", "import", events.TASK_IMPORTED)
