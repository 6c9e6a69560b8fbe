"""Secrets through import_tasks and export_tasks: {"secret": "value"} in a file is stored sealed (database row,
conf/tasks.json, a backup); the export writes the tokens (imported again unchanged) or, with --omit-secrets, the
names alone (imported again, the stored secrets stay)."""
import io
import json

import pytest
from django.core.management import CommandError, call_command

from tasks_app.models import Task
from tasks_app.secrets import keys
from tests.secrets.helpers import assert_sealed, conf_texts, raw_row

pytestmark = pytest.mark.django_db
PASSWORD = "imp0rted-passw0rd"


def task(task_id="imp", **fields):
    return {"task_id": task_id, "task_name": task_id, "task_exec": "tasks/test_task.py", "task_schedule": "@daily",
            **fields}


def import_file(tmp_path, tasks, *args):
    path = tmp_path / "in.json"
    path.write_text(json.dumps({"tasks": tasks}), encoding="utf-8")
    out = io.StringIO()
    call_command("import_tasks", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def export(*args):
    out = io.StringIO()
    call_command("export_tasks", "--output", "-", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def imported(tmp_path):
    import_file(tmp_path, [task(task_env={"DB_PASSWORD": {"secret": PASSWORD}, "PLAIN": "p"})])
    import_file(tmp_path, [task(task_name="renamed", task_env={"DB_PASSWORD": {"secret": PASSWORD}, "PLAIN": "p"})])
    return Task.objects.get(task_id="imp")


def test_a_secret_imported_from_a_file_is_stored_sealed_everywhere(imported):
    assert keys.open_secret(imported.task_env["DB_PASSWORD"]) == PASSWORD
    assert_sealed(raw_row("imp"), PASSWORD)
    texts = conf_texts()
    assert "tasks.json" in texts and len(texts) >= 2  # the mirror and the backup of its first version
    for text in texts.values():
        assert_sealed(text, PASSWORD)


def test_the_export_writes_tokens_that_import_again_without_a_change(imported, tmp_path):
    text = export()
    assert_sealed(text, PASSWORD)
    document = json.loads(text)
    assert document["tasks"][0]["task_env"]["DB_PASSWORD"] == imported.task_env["DB_PASSWORD"]
    assert "unchanged: imp" in import_file(tmp_path, document["tasks"])
    Task.objects.all().delete()
    assert "created: imp" in import_file(tmp_path, document["tasks"])  # e.g. on a new machine with the same key
    assert keys.open_secret(Task.objects.get(task_id="imp").task_env["DB_PASSWORD"]) == PASSWORD


def test_omit_secrets_writes_the_names_alone_and_importing_that_keeps_the_stored_secrets(imported, tmp_path):
    text = export("--omit-secrets")
    assert "gAAAA" not in text and PASSWORD not in text
    document = json.loads(text)
    assert document["tasks"][0]["task_env"] == {"DB_PASSWORD": {"secret": True}, "PLAIN": "p"}
    assert "unchanged: imp" in import_file(tmp_path, document["tasks"])
    assert Task.objects.get(task_id="imp").task_env == imported.task_env
    Task.objects.all().delete()
    with pytest.raises(CommandError):
        import_file(tmp_path, document["tasks"])


def test_a_file_export_with_omit_secrets_refuses_to_write_conf_tasks_json(imported, settings):
    with pytest.raises(CommandError, match="conf/tasks.json holds the secrets sealed"):
        call_command("export_tasks", "--omit-secrets", stdout=io.StringIO())
