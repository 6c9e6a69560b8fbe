"""Writing the audit trail: one entry (django-auditlog's LogEntry) per change or event, with who (the actor's name,
and their user when a request made it), through what (`via`), from where (the request's address and API key, see
context.py), which object, and what changed field by field as any role may see it (redact.py). An entry that
changes a task's configuration also holds the whole configuration after it: a version (versions.py).

Entries are written inside the change's transaction: they exist exactly when the change does."""
import uuid
from dataclasses import replace

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from tasks_app.definition.fields import TASK_FIELDS
from tasks_app.models import ApiKey, Task, TriggerToken

from . import events, versions
from .context import current_origin
from .redact import shown

SYSTEM = "system"  # who recorded a task's configuration as found before its first audited change


def actor_name(actor) -> str:
    """A user, a name ("bootstrap", an operating-system user), or None for whoever runs manage.py."""
    if actor is None:
        return "cli"
    return actor if isinstance(actor, str) else actor.get_username()


def batch_origin():
    """The current origin with a correlation id, so the entries of one import or restore share it even outside a
    request."""
    origin = current_origin()
    return origin if origin.cid else replace(origin, cid=uuid.uuid4().hex)


def entry(event, *, model, object_pk, object_repr, actor, via, object_id=None, changes=None, details=None,
          snapshot=None, version=None, origin=None, action=None) -> LogEntry:
    """An unsaved entry; `origin` defaults to the request being served (context.py)."""
    origin = origin or current_origin()
    name = actor_name(actor)
    data = {"event": event, "actor": name, "via": via}
    if origin.key:
        data["key"] = origin.key
    if version is not None:
        data["version"] = version
    if details:
        data["details"] = details
    user = origin.user if origin.user is not None and origin.user.get_username() == name else None
    return LogEntry(
        content_type=ContentType.objects.get_for_model(model), object_pk=str(object_pk)[:255], object_id=object_id,
        object_repr=str(object_repr)[:1000], action=events.auditlog_action(event) if action is None else action,
        changes=changes or {}, actor=user, remote_addr=origin.address, cid=origin.cid, additional_data=data,
        serialized_data=snapshot,
    )


def write(event, **fields) -> LogEntry:
    """Write one entry (the fields of `entry`)."""
    made = entry(event, **fields)
    made.save()
    return made


def task_changes(before, after) -> dict:
    """{field: [before, after]} of the fields that differ, as any role may see them; every field for a task
    created (before None) or deleted (after None)."""
    changes = {}
    for name in TASK_FIELDS:
        old = before.get(name) if before is not None else None
        new = after.get(name) if after is not None else None
        if before is not None and after is not None and old == new:
            continue
        seen_old, seen_new = shown(name, old, new)
        changes[name] = [seen_old if before is not None else None, seen_new if after is not None else None]
    return changes


def task_event(event, task, *, before, after, actor, via, details=None, origin=None):
    """The entry of a change to `task` (a models.Task): `before` and `after` are its configuration
    (definition.fields.task_to_dict) before and after, None where it did not or no longer exists. A change of
    its configuration is a new version; the first one of a task that existed before auditing began is preceded
    by the configuration as found (version 1), so that every version can be compared and restored."""
    made = task_entries(event, task, before=before, after=after, actor=actor, via=via, details=details,
                        origin=origin, latest=versions.latest_number(task.task_id))
    for item in made:
        item.save()
    return made[-1]


def task_events(changes, *, actor, via, details=None, origin=None):
    """task_event for many tasks at once (an import): `changes` is a list of (event, task, before, after); one
    query for the version numbers, one INSERT."""
    latest = versions.latest_numbers([task.task_id for _event, task, _before, _after in changes])
    made = []
    for event, task, before, after in changes:
        made += task_entries(event, task, before=before, after=after, actor=actor, via=via, details=details,
                             origin=origin, latest=latest.get(task.task_id, 0))
        if made[-1].additional_data.get("version"):
            latest[task.task_id] = made[-1].additional_data["version"]
    LogEntry.objects.bulk_create(made)
    return made


def task_entries(event, task, *, before, after, actor, via, details, origin, latest) -> list:
    """The unsaved entries of one change (see task_event); `latest` is the task's latest version number."""
    task_id = task.task_id
    action = events.CREATE if before is None and after is not None else events.DELETE if after is None else None
    made, version = [], None
    if event in events.VERSION_EVENTS:
        if latest == 0 and before is not None:
            latest = 1
            # Not the change's author, nor their address: nobody made this configuration just now.
            found = replace(origin or current_origin(), user=None, address=None, key=None)
            made.append(entry(events.TASK_RECORDED, model=Task, object_pk=task_id, object_id=task.pk,
                              object_repr=task_id, actor=SYSTEM, via=via, snapshot=before, version=latest,
                              origin=found))
        version = latest + 1
    made.append(entry(event, model=Task, object_pk=task_id, object_id=task.pk, object_repr=task_id, actor=actor,
                      via=via, changes=task_changes(before, after), details=details, version=version, origin=origin,
                      snapshot=after if after is not None else before, action=action))
    return made


def run_event(event, task, *, actor, via, details):
    """A run started by hand or stopped: an entry about the task, the executions in `details`."""
    return write(event, model=Task, object_pk=task.task_id, object_id=task.pk, object_repr=task.task_id,
                 actor=actor, via=via, details=details)


def run_events(runs, *, actor, via, origin=None):
    """run_event for many runs at once (a bulk run now): `runs` is a list of (event, task, details); one INSERT."""
    origin = origin or batch_origin()
    made = [entry(event, model=Task, object_pk=task.task_id, object_id=task.pk, object_repr=task.task_id,
                  actor=actor, via=via, details=details, origin=origin) for event, task, details in runs]
    LogEntry.objects.bulk_create(made)
    return made


def key_event(event, key, *, actor, via, changes):
    return write(event, model=ApiKey, object_pk=key.pk, object_id=key.pk, object_repr=f"{key.prefix}… ({key.name})"
                 if key.name else f"{key.prefix}…", actor=actor, via=via, changes=changes,
                 details={"owner": key.user.get_username()})


def hook_event(event, hook, *, actor, via, changes):
    """A trigger URL created or revoked: an entry about the token (never the token, only its prefix)."""
    return write(event, model=TriggerToken, object_pk=hook.pk, object_id=hook.pk, object_repr=str(hook),
                 actor=actor, via=via, changes=changes, details={"task": hook.task.task_id})
