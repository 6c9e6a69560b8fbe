"""conf/tasks.json as a mirror of the database: rewritten after every change, the previous file kept as a backup.

Edits that come together share a write (a group commit): the file is rendered from the whole database, so one
rendering that starts after a change was committed holds that change too. Beside the file, `.tasks.json.mirrored`
says which state of the database (ConfigVersion's version and time) the file was last rendered from, and the
file's hash then; a caller whose change is older than that state, with the file unchanged since, has nothing to
write. Each caller still returns only once the file holds its change."""
import hashlib
import json
import logging

from tasks_app.definition.fields import task_to_dict
from tasks_app.models import Calendar, ConfigVersion, Task
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
    return jsonfile.dumps(render_tasks_document(database_tasks(omit_secrets=omit_secrets), orders,
                                                database_calendars()))


def database_tasks(*, omit_secrets=False) -> list:
    """Every task of the database as a dict, task_log filled in as the engine reads it; secrets sealed, or by
    name alone with `omit_secrets`."""
    tasks = [{**task_to_dict(task), "task_log": task.log_path} for task in Task.objects.order_by("task_id")]
    return [values.omit_secrets(task) for task in tasks] if omit_secrets else tasks


def database_calendars() -> list:
    """The custom calendars of the database as the file holds them."""
    return [calendar.file_entry() for calendar in Calendar.objects.order_by("name")]


def mirror_tasks_file(actor="system", via="system", *, key_orders=None, after_change=False) -> bool:
    """Rewrite conf/tasks.json from the database after a change, keeping the previous file in
    BACKUPS_DIR first. Nothing is written (and no backup taken) if the content is already the same.
    `after_change`: the caller's change is committed, and a rendering since then (by anyone) is enough.
    Returns True if the file was rewritten."""
    path = tasks_file()
    changed = _database_state() if after_change else None
    # Held across reading the database and writing, so two processes mirroring at once cannot leave
    # the older view of the database in the file.
    with jsonfile.locked(path):
        if changed is not None and _rendered_since(path, changed):
            return False
        state = _database_state()  # read before the tasks: the file then holds at least this state
        text = render_tasks_text(key_orders)
        try:
            current = path.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            current = None
        backup = None
        if current != text:
            backup = backups.backup_file(path)
            jsonfile.write_text_atomic(path, text)
        jsonfile.write_json_atomic(_mark_of(path), {**state, "sha256": _sha256(text.encode("utf-8"))})
    if current == text:
        return False
    backups.prune()
    engine_log.info("Wrote %s after a change by %s via %s%s", path, actor, via,
                    f"; previous version kept as {backup.name}" if backup else "")
    return True


def catch_up() -> bool:
    """Rewrite the file if it is still the engine's last rendering and the database has changed since (a web
    process was killed before its writer thread wrote). A file edited by hand meanwhile is left alone: the next
    change writes it, as always. Returns True if the file was rewritten."""
    path = tasks_file()
    mark = _mark(path)
    if mark is None or mark["sha256"] != _file_sha256(path) or _rendered_since(path, _database_state()):
        return False
    return mirror_tasks_file(actor="system", via="system", after_change=True)


def _database_state() -> dict:
    row = ConfigVersion.objects.filter(pk=1).values("version", "changed_at").first() or {"version": 0}
    when = row.get("changed_at")
    return {"version": row["version"], "changed_at": when.isoformat(timespec="microseconds") if when else ""}


def _mark_of(path):
    return path.with_name(f".{path.name}.mirrored")


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _mark(path) -> dict | None:
    try:
        mark = json.loads(_mark_of(path).read_text(encoding="utf-8"))
        return mark if {"sha256", "version", "changed_at"} <= set(mark) else None
    except (OSError, ValueError, TypeError):
        return None


def _file_sha256(path) -> str | None:
    try:
        return _sha256(path.read_bytes())
    except OSError:
        return None


def _rendered_since(path, state) -> bool:
    """The file was rendered from `state` of the database or a later one, and nobody has written it since.
    The time as well as the version: a database made anew counts its versions from 0 again."""
    mark = _mark(path)
    return (mark is not None and mark["sha256"] == _file_sha256(path) and mark["version"] >= state["version"]
            and mark["changed_at"] >= state["changed_at"])
