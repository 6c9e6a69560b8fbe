"""Reading the audit trail, the same for the pages, the API and the admin: its filters (user, task, action, time)
and one entry as any role may see it."""
import json

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType

from tasks_app.definition.fields import FIELD
from tasks_app.models import Task

from . import events
from .redact import visible


def entries():
    """The whole trail, newest first."""
    return LogEntry.objects.select_related("content_type").order_by("-timestamp", "-pk")


def filter_entries(queryset, *, user=None, task=None, action=None, since=None, until=None):
    """`user`: who acted (a user name, "bootstrap", the name tried at a failed login...); `task`: a task_id;
    `action`: one of events.EVENTS; `since` / `until`: aware datetimes, `until` excluded."""
    if user:
        queryset = queryset.filter(additional_data__actor=user)
    if task:
        queryset = queryset.filter(content_type=ContentType.objects.get_for_model(Task), object_pk=task)
    if action:
        queryset = queryset.filter(additional_data__event=action)
    if since:
        queryset = queryset.filter(timestamp__gte=since)
    if until:
        queryset = queryset.filter(timestamp__lt=until)
    return queryset


def kind_of(entry) -> str:
    """"task", "apikey", "user" (or the model's name for anything else)."""
    return entry.content_type.model


def present(entry) -> dict:
    """One entry as the pages, the API and the admin show it; a task field's values pass through the rule of
    redact.py once more, so an entry written under an older rule shows no more than the current one allows."""
    data = entry.additional_data or {}
    kind = kind_of(entry)
    changes = entry.changes or {}
    if kind == "task":
        changes = {name: [visible(name, value) for value in pair] if name in FIELD and isinstance(pair, list)
                   else pair for name, pair in changes.items()}
    return {
        "id": entry.pk,
        "time": entry.timestamp,
        "action": data.get("event", ""),
        "action_label": events.label(data.get("event", "")),
        "actor": data.get("actor", ""),
        "key": data.get("key"),
        "via": data.get("via", ""),
        "object_type": kind,
        "object_id": entry.object_pk,
        "object": entry.object_repr,
        "task_id": entry.object_pk if kind == "task" else None,
        "version": data.get("version"),
        "changes": changes,
        "details": data.get("details") or {},
        "address": entry.remote_addr,
        "correlation_id": entry.cid,
    }


def as_text(value):
    """A value on a page: text as it is, None as None (the page shows a dash), anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=isinstance(value, dict))


def change_rows(changes: dict) -> list:
    """present()'s changes as rows for a page: {"field", "before", "after"} in text; a change that is not a pair
    (a user's groups added and removed) has its description as "after"."""
    rows = []
    for name, change in changes.items():
        if isinstance(change, list) and len(change) == 2:
            rows.append({"field": name, "before": as_text(change[0]), "after": as_text(change[1]), "pair": True})
        else:
            rows.append({"field": name, "before": None, "after": as_text(change), "pair": False})
    return rows
