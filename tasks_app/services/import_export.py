"""Export, import and restore of tasks in the tasks.json format: the use cases behind the commands, the API and
bootstrap. Import is all-or-nothing: every problem is listed and nothing changes. Each task an import or a
restore creates, changes or deletes is an audit entry (one correlation id for the whole file)."""
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from tasks_app.audit import events as audit_events
from tasks_app.audit import record as audit
from tasks_app.conffile import backups, jsonfile
from tasks_app.conffile.backups import tasks_file
from tasks_app.conffile.mirror import (database_calendars, database_tasks, key_orders_in, mirror_tasks_file,
                                       render_tasks_text)
from tasks_app.conffile.render import key_orders_of, render_tasks_document
from tasks_app.dal import domain
from tasks_app.dal.django_dal import apply_task_fields, execution_to_domain, status_to_dict, task_to_domain
from tasks_app.dal.file_dal import history_document, status_document
from tasks_app.definition.fields import task_to_dict
from tasks_app.definition.loader import TaskFileError, TaskLoader
from tasks_app.models import ConfigVersion, Task, TaskExecution, TaskStatus
from tasks_app.services.calendars import import_calendars


log = logging.getLogger("TaskLoader")
engine_log = logging.getLogger("SchedulerEngine")


# ---- export -------------------------------------------------------------------------------------------------

def sibling_files(path) -> tuple[Path, Path]:
    """Where export puts history and status next to a tasks file: task_history.json and task_status.json."""
    folder = Path(path).parent
    return folder / "task_history.json", folder / "task_status.json"


def export_document(*, include_history=False, include_status=False, omit_secrets=False) -> dict:
    """Everything export writes, as one document (for --output -): secrets sealed, as conf/tasks.json holds
    them (importable again under the same key), or by name alone with `omit_secrets`."""
    document = render_tasks_document(database_tasks(omit_secrets=omit_secrets), key_orders_in(tasks_file()),
                                     database_calendars())
    if include_history:
        document["history"] = _history_document()
    if include_status:
        document["status"] = _status_document()
    return document


def _history_document():
    return history_document(execution_to_domain(obj, obj.task.task_id)
                            for obj in TaskExecution.objects.select_related("task").iterator())


def _status_document():
    return status_document({obj.task.task_id: status_to_dict(obj) for obj in TaskStatus.objects.select_related("task")})


def export_tasks(path, *, include_history=False, include_status=False, omit_secrets=False, actor="system",
                 via="cli") -> list[Path]:
    """Write the database's tasks to `path` in the tasks.json format (plus task_history.json and
    task_status.json beside it if asked); secrets sealed, or by name alone with `omit_secrets`. Exporting onto
    conf/tasks.json is a mirror (with a backup; secrets sealed). Returns the files written."""
    path = Path(path).resolve()
    if path == tasks_file().resolve():
        if omit_secrets:
            raise ValueError("conf/tasks.json holds the secrets sealed: export without them to another file")
        mirror_tasks_file(actor, via)
    else:
        # Prefer the key order the target already has, then the mirror's.
        jsonfile.write_text_atomic(path, render_tasks_text(key_orders_in(path), omit_secrets=omit_secrets))
    written = [path]
    history_file, status_file = sibling_files(path)
    if include_history:
        jsonfile.write_json_atomic(history_file, _history_document())
        written.append(history_file)
    if include_status:
        jsonfile.write_json_atomic(status_file, _status_document())
        written.append(status_file)
    engine_log.info("Exported %d task(s) to %s by %s via %s", Task.objects.count(),
                    ", ".join(str(p) for p in written), actor, via)
    return written


# ---- import -------------------------------------------------------------------------------------------------

@dataclass
class ImportResult:
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    deleted: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    calendars_created: list = field(default_factory=list)  # custom calendars of the file's "calendars" list
    calendars_updated: list = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted or self.calendars_created or self.calendars_updated)

    def summary(self) -> str:
        calendars = (f"; calendars: {len(self.calendars_created)} created, {len(self.calendars_updated)} updated"
                     if self.calendars_created or self.calendars_updated else "")
        return (f"{len(self.created)} created, {len(self.updated)} updated, {len(self.deleted)} deleted, "
                f"{len(self.unchanged)} unchanged{calendars}")


class _CapturingLoader(TaskLoader):
    """load_file() with the `existing` import needs (load_file alone assumes a self-contained file),
    keeping the raw items for their key order."""

    def __init__(self, existing, logs, stored):
        super().__init__()
        self.existing = existing
        self.logs = logs
        self.stored = stored
        self.items = None

    def clean_many(self, items, *, existing=None, logs=None, stored=None):
        self.items = items
        return super().clean_many(items, existing=self.existing, logs=self.logs, stored=self.stored)


def _calendars_in(path_or_data):
    """The file's "calendars" list (anything there, checked by import_calendars), or None when it has none. A file
    that cannot be read or parsed has none here: the loader names its problem next."""
    document = path_or_data
    if isinstance(path_or_data, (str, Path)):
        try:
            document = json.loads(Path(path_or_data).read_bytes().decode("utf-8-sig"))
        except (OSError, ValueError):
            return None
    return document["calendars"] if isinstance(document, dict) and "calendars" in document else None


def _bring_in_calendars(path_or_data, result, actor, via) -> list:
    """Write the file's calendars (in the import's transaction) before its tasks are checked; the problems found."""
    calendars = _calendars_in(path_or_data)
    if calendars is None:
        return []
    try:
        result.calendars_created, result.calendars_updated = import_calendars(calendars, actor=actor, via=via)
    except TaskFileError as exc:
        return exc.problems
    return []


def _validate(path_or_data, existing, logs, stored):
    """(cleaned tasks, raw items). Raises TaskFileError listing every problem."""
    if isinstance(path_or_data, (str, Path)):
        loader = _CapturingLoader(existing, logs, stored)
        cleaned = loader.load_file(path_or_data)
        return cleaned, loader.items
    items = path_or_data.get("tasks") if isinstance(path_or_data, dict) else path_or_data
    if isinstance(path_or_data, dict) and "tasks" not in path_or_data:
        raise TaskFileError([("", "file", 'The data must hold an object with a "tasks" list.')])
    return TaskLoader().clean_many(items, existing=existing, logs=logs, stored=stored), items


def import_tasks(path_or_data, *, replace=False, dry_run=False, actor, via="import", source=None,
                 backup=None) -> ImportResult:
    """Import tasks in the tasks.json format ({"tasks": [...]}) from a file path or parsed data; `backup` names
    the backup being restored (restore_backup), for the audit entries.

    All-or-nothing: validated as a whole by TaskLoader (dependencies may name database tasks unless
    `replace`), then written in one transaction. With `replace`, database tasks missing from the file are
    deleted. Raises loader.TaskFileError with every problem; nothing is changed then.
    """
    source = source or (str(path_or_data) if isinstance(path_or_data, (str, Path)) else "data")
    result = ImportResult(dry_run=dry_run)
    try:
        with transaction.atomic():
            current = {obj.task_id: obj for obj in Task.objects.select_for_update().order_by("task_id")}
            existing = {} if replace else {tid: list(obj.task_dependencies or []) for tid, obj in current.items()}
            logs = {tid: obj.task_log for tid, obj in current.items()} if not replace else {}
            # A secret given as shown ({"secret": true}, a webhook's scheme and host) keeps the stored one.
            stored = {tid: {"task_env": obj.task_env, "task_notify": obj.task_notify} for tid, obj in current.items()}
            problems = _bring_in_calendars(path_or_data, result, actor, via)
            try:
                cleaned, items = _validate(path_or_data, existing, logs, stored)
            except TaskFileError as exc:
                raise TaskFileError(problems + exc.problems) from None
            if problems:
                raise TaskFileError(problems)
            incoming = {data["task_id"]: domain.Task(**data).to_dict() for data in cleaned}
            for task_id, data in incoming.items():
                if task_id not in current:
                    result.created.append(task_id)
                elif task_to_domain(current[task_id]).to_dict() == data:  # task_log filled in on both sides
                    result.unchanged.append(task_id)
                else:
                    result.updated.append(task_id)
            if replace:
                result.deleted = sorted(set(current) - set(incoming))
            if dry_run or not result.changed:
                transaction.set_rollback(True)
            else:
                audited = _write(incoming, result, current)
                event = audit_events.TASK_RESTORED if backup else audit_events.TASK_IMPORTED
                audit.task_events([(audit_events.TASK_DELETED if after is None else event, task, before, after)
                                   for task, before, after in audited], actor=actor, via=via,
                                  details={"backup": backup} if backup else {"source": source},
                                  origin=audit.batch_origin())
    except TaskFileError as exc:
        log.warning("Import of %s by %s via %s refused, nothing changed: %d problem(s)",
                    source, actor, via, len(exc.problems))
        raise
    if dry_run:
        log.info("Dry run of importing %s by %s via %s: %s", source, actor, via, result.summary())
        return result
    mirror_tasks_file(actor, via, key_orders=key_orders_of(items))
    log.info("Imported %d task(s) from %s by %s via %s: %s", len(incoming), source, actor, via, result.summary())
    return result


def _write(incoming, result, current) -> list:
    """Returns (task, before, after) of each task written, for the audit trail."""
    audited = [(current[task_id], task_to_dict(current[task_id]), None) for task_id in result.deleted]
    Task.objects.filter(task_id__in=result.deleted).delete()
    new = []
    for task_id in result.created:
        obj = Task(task_id=task_id)
        apply_task_fields(obj, incoming[task_id])
        new.append(obj)
    # One INSERT for the new tasks: importing a thousand tasks takes a fraction of a second, not seconds.
    Task.objects.bulk_create(new)
    # Lists show the stored next run, so an imported task has one at once, as a created one does.
    TaskStatus.objects.bulk_create([TaskStatus(task=obj, next_run_time=obj.next_run_time()) for obj in new])
    audited += [(obj, None, task_to_dict(obj)) for obj in new]
    for task_id in result.updated:
        obj = current[task_id]
        before = task_to_dict(obj)
        apply_task_fields(obj, incoming[task_id])
        obj.save()
        obj.store_next_run()
        audited.append((obj, before, task_to_dict(obj)))
    ConfigVersion.bump()
    return audited


# ---- restore ------------------------------------------------------------------------------------------------

def restore_backup(name: str, *, actor: str, via: str = "restore") -> ImportResult:
    """Bring back backup `name`: validated as a whole first (nothing changes if it is invalid), then the
    current conf/tasks.json is backed up and the database tasks are replaced by the backup's, as
    import --replace does."""
    backup = backups.find_backup(name)
    # Validate before touching anything, so an invalid backup does not even cause a new backup.
    import_tasks(backup.path, replace=True, dry_run=True, actor=actor, via=via, source=name)
    backups.backup_file()
    result = import_tasks(backup.path, replace=True, actor=actor, via=via, source=name, backup=name)
    engine_log.info("Restored conf/tasks.json from backup %s by %s via %s", name, actor, via)
    return result
