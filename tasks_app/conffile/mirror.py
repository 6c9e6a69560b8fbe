"""conf/tasks.json as a mirror of the database: rewritten after every change, the previous file kept as a backup."""
import logging

from tasks_app.definition.fields import task_to_dict
from tasks_app.models import Task
from tasks_app.secrets import values

from . import backups, jsonfile
from .backups import tasks_file
from .render import key_orders_of, render_tasks_document

engine_log = logging.getLogger("SchedulerEngine")


def key_orders_in(path) -> dict:
    """The key order a person gave task_env / task_notify in an existing file (jsonb forgets it)."""
    try:
        return key_orders_of((jsonfile.read_json(path, {}) or {}).get("tasks"))
    except (OSError, ValueError, AttributeError):
        return {}


def render_tasks_text(key_orders=None, *, omit_secrets=False) -> str:
    """conf/tasks.json's content for the tasks now in the database; `key_orders` win over the current file's.
    Secrets are written sealed ({"encrypted": token}), or by name alone with `omit_secrets`."""
    orders = key_orders_in(tasks_file())
    orders.update(key_orders or {})
    return jsonfile.dumps(render_tasks_document(database_tasks(omit_secrets=omit_secrets), orders))


def database_tasks(*, omit_secrets=False) -> list:
    """Every task of the database as a dict, task_log filled in as the engine reads it; secrets sealed, or by
    name alone with `omit_secrets`."""
    tasks = [{**task_to_dict(task), "task_log": task.log_path} for task in Task.objects.order_by("task_id")]
    return [values.omit_secrets(task) for task in tasks] if omit_secrets else tasks


def mirror_tasks_file(actor="system", via="system", *, key_orders=None) -> bool:
    """Rewrite conf/tasks.json from the database after a change, keeping the previous file in
    BACKUPS_DIR first. Nothing is written (and no backup taken) if the content is already the same.
    Returns True if the file was rewritten."""
    path = tasks_file()
    # Held across reading the database and writing, so two processes mirroring at once cannot leave
    # the older view of the database in the file.
    with jsonfile.locked(path):
        text = render_tasks_text(key_orders)
        try:
            if path.read_text(encoding="utf-8") == text:
                return False
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        backup = backups.backup_file(path)
        jsonfile.write_text_atomic(path, text)
    backups.prune()
    engine_log.info("Wrote %s after a change by %s via %s%s", path, actor, via,
                    f"; previous version kept as {backup.name}" if backup else "")
    return True
