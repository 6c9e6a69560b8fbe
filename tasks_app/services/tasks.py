"""Use cases that change tasks. Pages, API, admin and commands all call these, so each change is
validated by TaskLoader, bumps the scheduler's change marker, mirrors conf/tasks.json (after a backup)
and is logged with who made it and where it came from, the `via` ("admin", "api", "web", "import", "restore",
"cli"). Each change is an audit entry too, written in the same transaction (tasks_app.audit).
"""
import logging

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext_lazy as _

from ..audit import events as audit_events
from ..audit import record as audit
from ..conffile import background
from ..conffile.mirror import mirror_tasks_file
from ..definition.fields import FIELD, TASK_FIELDS, task_to_dict
from ..definition.loader import TaskLoader, TaskValidationError, show
from ..models import ConfigVersion, Task
from ..models.prepared import PreparedLookup

log = logging.getLogger("SchedulerEngine")
SOURCES = ("admin", "api", "web", "import", "restore", "cli")  # the values of `via`


def create_task(data: dict, *, actor: str, via: str):
    """Validate `data` (a dict of the task's fields) and create the Task. Raises loader.TaskValidationError."""
    _check_via(via)
    try:
        with transaction.atomic():
            cleaned = TaskLoader().clean(data)
            task = Task.objects.create(**cleaned)
            task.store_next_run()
            ConfigVersion.bump()
            audit.task_event(audit_events.TASK_CREATED, task, before=None, after=task_to_dict(task), actor=actor,
                             via=via)
    except IntegrityError:
        # Two requests created the same id at once; the loser gets the loader's message, not a 500.
        if Task.objects.filter(task_id=data.get("task_id")).exists():
            message = _("A task with task_id %(value)s already exists.") % {"value": show(data.get("task_id"))}
            raise TaskValidationError({"task_id": [str(message)]}) from None
        raise
    log.info("Task %s created by %s via %s: %s", task.task_id, actor, via, _summary(cleaned))
    _mirror_after_commit(actor, via)
    return task


def update_task(task, data: dict, *, actor: str, via: str, partial: bool = False, restored_version=None):
    """Validate and apply `data` to `task` (a models.Task). Raises loader.TaskValidationError.
    partial=True changes only the fields given; otherwise missing fields take their defaults (a PUT).
    restored_version: the number of the task's own version `data` comes from (services.versions)."""
    _check_via(via)
    # Validated before the transaction: on SQLite it holds the one write lock from its start, and validation
    # reads every task (ids, logs, dependencies), which under load kept every other writer waiting. Under the
    # lock only what could have changed the answer is read again, so the result is the same as validating there.
    known = TaskLoader.known_tasks()
    early = _cleaned_update(_stored(_task_row, task.pk), data, partial, known)
    with transaction.atomic():
        # Read the row again under a lock: a partial update merges with what is stored now, not with
        # what the caller loaded a while ago.
        current = _stored(_locked_task_row, task.pk)
        # The other tasks matter only to an edit of the fields checked against them (dependencies, log): one
        # that keeps those as stored cannot clash with another task's change, which was itself checked against
        # them. Other edits come many times a second under load, so the rest (a description, a timeout) skip
        # the query of every task's ids, dependencies and logs that the rest would need here.
        before, cleaned = early
        stored = task_to_dict(current)
        if stored != before or not _keeps_checked_against_others(before, cleaned):
            known_now = TaskLoader.known_tasks()
            if stored != before or known_now != known:
                before, cleaned = _cleaned_update(current, data, partial, known_now)
        changed = [name for name in TASK_FIELDS if before[name] != cleaned[name]]
        if changed:
            for name in changed:
                setattr(current, name, cleaned[name])
            current.save(update_fields=[*changed, "updated_at"])
            if Task.NEXT_RUN_FIELDS.intersection(changed):
                current.store_next_run()
            ConfigVersion.bump()
            if restored_version is None:
                audit.task_event(audit_events.TASK_UPDATED, current, before=before, after=task_to_dict(current),
                                 actor=actor, via=via)
            else:
                audit.task_event(audit_events.VERSION_RESTORED, current, before=before, after=task_to_dict(current),
                                 actor=actor, via=via, details={"restored_version": restored_version})
    _copy_into(task, current)
    if not changed:
        log.info("Task %s saved by %s via %s without changes", task.task_id, actor, via)
        return task
    log.info("Task %s updated by %s via %s: %s", task.task_id, actor, via, _changes(before, cleaned, changed))
    _mirror_after_commit(actor, via)
    return task


def delete_task(task, *, actor: str, via: str):
    """Delete a task and its history. Refused (TaskValidationError on task_dependencies) while others depend on it."""
    _check_via(via)
    with transaction.atomic():
        dependents = dependents_of(task.task_id)
        if dependents:
            message = _("Task %(task)s cannot be deleted: %(dependents)s depend(s) on it. Remove it from their "
                        "task_dependencies first.") % {"task": show(task.task_id), "dependents": ", ".join(dependents)}
            raise TaskValidationError({"task_dependencies": [str(message)]})
        task_id = task.task_id
        current = Task.objects.select_for_update().filter(pk=task.pk).first()
        if current is not None:
            audit.task_event(audit_events.TASK_DELETED, current, before=task_to_dict(current), after=None,
                             actor=actor, via=via)
        Task.objects.filter(pk=task.pk).delete()
        ConfigVersion.bump()
    log.info("Task %s deleted by %s via %s", task_id, actor, via)
    _mirror_after_commit(actor, via)


def set_enabled(task, enabled: bool, *, actor: str, via: str):
    """Enable or disable a task; nothing is written when it is already in that state."""
    _check_via(via)
    if not isinstance(enabled, bool):
        message = _("task_enabled must be true or false, got %(value)s.") % {"value": show(enabled)}
        raise TaskValidationError({"task_enabled": [str(message)]})
    with transaction.atomic():
        current = Task.objects.select_for_update().get(pk=task.pk)
        changed = current.task_enabled != enabled
        if changed:
            before = task_to_dict(current)
            current.task_enabled = enabled
            current.save(update_fields=["task_enabled", "updated_at"])
            current.store_next_run()
            ConfigVersion.bump()
            audit.task_event(audit_events.TASK_ENABLED if enabled else audit_events.TASK_DISABLED, current,
                             before=before, after=task_to_dict(current), actor=actor, via=via)
    _copy_into(task, current)
    if changed:
        log.info("Task %s %s by %s via %s", task.task_id, "enabled" if enabled else "disabled", actor, via)
        _mirror_after_commit(actor, via)
    return task


# The task an edit reads before its transaction and again under its lock, by statements each connection compiles
# once (models/prepared.py): Django compiled both at each edit, a tenth of its CPU.
_task_row = PreparedLookup(Task, "pk", stand_in=-1)
_locked_task_row = PreparedLookup(Task, "pk", stand_in=-1, for_update=True)


def _stored(lookup, pk):
    """Task.objects[.select_for_update()].get(pk=pk), by a prepared lookup."""
    task = lookup(pk)
    if task is None:
        raise Task.DoesNotExist("Task matching query does not exist.")
    return task


def _cleaned_update(current, data, partial, known):
    """(the task's fields now, the fields it would have) for an update of `current` with `data`; `known` is
    TaskLoader.known_tasks(), the other tasks it is checked against."""
    before = task_to_dict(current)
    merged = {**before, **data} if partial else dict(data)
    merged.setdefault("task_id", current.task_id)
    existing, logs = known
    stored = {"task_env": current.task_env, "task_notify": current.task_notify}  # what clean() would read
    return before, TaskLoader().clean(merged, instance_id=current.task_id, existing=existing, logs=logs,
                                      stored=stored)


def _keeps_checked_against_others(before, cleaned) -> bool:
    return all(before[name] == cleaned[name] for name in TaskLoader.CHECKED_AGAINST_OTHERS)


def dependents_of(task_id: str) -> list:
    """Ids of the tasks whose task_dependencies name `task_id`, sorted."""
    others = Task.objects.exclude(task_id=task_id).order_by("task_id")
    if connection.features.supports_json_field_contains:
        return list(others.filter(task_dependencies__contains=[task_id]).values_list("task_id", flat=True))
    # SQLite has no JSON containment: narrow with a text match, then check the lists themselves.
    candidates = others.filter(task_dependencies__icontains=f'"{task_id}"')
    return [other for other, deps in candidates.values_list("task_id", "task_dependencies") if task_id in (deps or [])]


def _copy_into(target, source):
    """Give the caller's instance the stored values, so it does not hold stale fields after the call."""
    if target is source:
        return
    for field in Task._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def _mirror_after_commit(actor, via):
    transaction.on_commit(lambda: _mirror(actor, via))


def _mirror(actor, via):
    if background.mirror_soon(actor, via):
        return  # a web process: its writer thread writes the file (conffile/background.py)
    try:
        mirror_tasks_file(actor=actor, via=via, after_change=True)
    except Exception:
        # The database holds the change already; a failed mirror must be visible in sys.log, and the next
        # change (or export_tasks) writes the file again.
        log.exception("conf/tasks.json could not be rewritten after a change by %s via %s", actor, via)


def _check_via(via):
    if via not in SOURCES:
        raise ValueError(f"via must be one of {', '.join(SOURCES)}, got {via!r}")


def _summary(cleaned):
    parts = [f"schedule {cleaned['task_schedule'] or '(chain)'!s}", f"exec {cleaned['task_exec']}",
             "enabled" if cleaned["task_enabled"] else "disabled"]
    if cleaned["task_env"]:
        parts.append("env keys " + ", ".join(sorted(cleaned["task_env"])))
    return "; ".join(parts)


def _changes(before, after, changed):
    """Changed field names, never values; for a secret mapping (task_env) also the keys added, removed and
    changed."""
    out = []
    for name in changed:
        old, new = before[name] or {}, after[name] or {}
        if FIELD[name].secret and isinstance(old, dict) and isinstance(new, dict):
            keys = [f"+{k}" for k in sorted(new.keys() - old.keys())]
            keys += [f"-{k}" for k in sorted(old.keys() - new.keys())]
            keys += [f"~{k}" for k in sorted(old.keys() & new.keys()) if old[k] != new[k]]
            out.append(f"{name} ({' '.join(keys)})")
        else:
            out.append(name)
    return "changed " + ", ".join(out)
