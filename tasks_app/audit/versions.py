"""A task's versions, read from the audit trail: each entry of a change to its configuration holds the whole
configuration after the change (in the tasks.json form, in auditlog's serialized_data) and its number, 1, 2, 3...
counted per task_id, so a task deleted and created again goes on counting."""
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import router
from django.db.models import F, IntegerField, Max
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from tasks_app.definition.fields import FIELD, TASK_FIELDS
from tasks_app.models import Task
from tasks_app.models.prepared import CompiledQuery, compiled_once

from .redact import visible


def task_entries(task_id):
    """Every audit entry about the task `task_id`, newest first. Found through the index on object_pk: SQLite,
    without statistics, took the one on the content type, which serves the order too, and so walked the entries
    about every task, newest first, down to this task's (an edit's version number, read under its write lock,
    took 25 ms with 50,000 entries after others' edits). The content type is compared as `content_type_id + 0`,
    which no index serves."""
    return _entries(ContentType.objects.get_for_model(Task).pk, task_id)


def _entries(content_type, task_id):
    return (LogEntry.objects.alias(kind=F("content_type_id") + 0)
            .filter(kind=content_type, object_pk=task_id).order_by("-pk"))


def version_entries(task_id):
    return _versions(task_entries(task_id))


def _versions(entries):
    return entries.filter(additional_data__has_key="version")


def latest_number(task_id) -> int:
    """The number of the task's latest version; 0 when none was recorded. Every edit reads it under SQLite's write
    lock, and Django compiled its query anew each time (0.3 ms of CPU, where running it costs a tenth of that): it
    is compiled once per connection, the content type and the task given at each call, the row read each time."""
    alias = router.db_for_read(LogEntry)
    row = compiled_once(alias, latest_number, lambda: CompiledQuery(
        _versions(_entries(*_STAND_INS)).values_list("additional_data", flat=True)[:1], alias, *_STAND_INS),
    ).first_row(ContentType.objects.get_for_model(Task).pk, task_id)
    return row[0]["version"] if row else 0


# The content type (a new database may number it anew) and the task: found among the compiled parameters.
_STAND_INS = (-715, "\0 a task id")  # no content type is negative, no task id has a NUL


def latest_numbers(task_ids) -> dict:
    """{task_id: latest version number} of those of `task_ids` that have versions, in one query."""
    numbers = (LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Task), object_pk__in=task_ids,
                                       additional_data__has_key="version")
               .order_by().values("object_pk")
               .annotate(latest=Max(Cast(KeyTextTransform("version", "additional_data"), IntegerField()))))
    return {row["object_pk"]: row["latest"] for row in numbers}


def version_entry(task_id, number):
    """The entry of version `number` of the task, or None."""
    return version_entries(task_id).filter(additional_data__version=number).first()


def number_of(entry) -> int:
    return (entry.additional_data or {}).get("version")


def visible_config(entry) -> dict:
    """The configuration a version holds, as any role may see it, in the order of the field table."""
    config = entry.serialized_data or {}
    return {name: visible(name, config.get(name)) for name in TASK_FIELDS if name in config}


def compare(older, newer) -> list:
    """Rows (field, label, older value, newer value, differs) of two versions side by side, every field of the
    table; values as any role may see them. `differs` also holds when only a hidden secret part differs."""
    old, new = older.serialized_data or {}, newer.serialized_data or {}
    rows = []
    for name in TASK_FIELDS:
        before, after = old.get(name), new.get(name)
        rows.append((name, FIELD[name].label, visible(name, before), visible(name, after), before != after))
    return rows


def snapshots():
    """Every version entry that holds a configuration (to seal its secrets anew when the key rotates)."""
    return (LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Task),
                                    additional_data__has_key="version", serialized_data__isnull=False)
            .only("pk", "object_pk", "serialized_data").order_by("pk"))
