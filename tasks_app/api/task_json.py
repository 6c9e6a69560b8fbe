"""A task's JSON in the API, defined once: the read endpoint, create and edit answers (TaskSerializer), the status
endpoint and the list all make it here, from an instance or from the list's rows, so they cannot drift apart.

The list reads its page with values_list() rather than as model instances: making 100 instances (a task and its
status row each) was a third of a list of 50 tasks' CPU, and nothing of the list needs an instance. The values
are the ORM's (its own converters decode the JSON columns and the times); the secrets are redacted by
secrets/values.redact_task, the state and the zone are the model's rules (models/task.py), for both."""
import functools
import zoneinfo

from django.utils import timezone
from rest_framework import serializers

from tasks_app.definition.fields import TASK_FIELDS
from tasks_app.models import Task, state_of, zone_name
from tasks_app.secrets.values import redact_task

TIMES = ("created_at", "updated_at")
TASK_COLUMNS = (*TASK_FIELDS, *TIMES)  # what a task's JSON shows of its own row, in this order
# What it shows of its status row (TaskStatus), in this order; a task the scheduler has not written one for yet
# shows the defaults of status_json.
STATUS_COLUMNS = ("running", "last_status", "last_execution_id", "last_start_time", "last_end_time", "next_run_time")
NO_STATUS = (False, "", None, None, None, None)
# The list's row: the task's columns, its status row's key (None: no row; the join is a LEFT OUTER one), the
# status row's columns.
LIST_COLUMNS = (*TASK_COLUMNS, "status__task", *(f"status__{column}" for column in STATUS_COLUMNS))


def in_zone(zone, moment):
    """An aware datetime as ISO 8601 with the offset of the zone named `zone` (None stays None)."""
    if moment is None:
        return None
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).isoformat()


def status_json(task_id, enabled, zone, status) -> dict:
    """The status block (TaskStatusSerializer's answer): `status` is the STATUS_COLUMNS of its row, or None."""
    running, last_status, last_execution, last_start, last_end, next_run = status or NO_STATUS
    return {
        "task_id": task_id,
        "status": state_of(running, enabled),
        "running": bool(running),
        "last_status": last_status,
        "last_execution": last_execution,
        "last_start_time": in_zone(zone, last_start),
        "last_end_time": in_zone(zone, last_end),
        "next_run_time": in_zone(zone, next_run if enabled else None),
        "timezone": zone,
    }


def status_of(task) -> dict:
    """The status block of a task instance (its status row comes with select_related, or is read)."""
    return status_json(task.task_id, task.task_enabled, task.timezone_name, _status_columns(task))


def _status_columns(task):
    status = task.current_status
    return None if status is None else [getattr(status, column) for column in STATUS_COLUMNS]


def answer_times():
    """One field for every time of an answer, with the request's zone read once: DRF's DateTimeField looks the
    current zone up at each value, a tenth of a list of 50 tasks' CPU."""
    return serializers.DateTimeField(default_timezone=timezone.get_current_timezone())


def task_json(values, status, times) -> dict:
    """A task's JSON: `values` are its TASK_COLUMNS, `status` its status row's STATUS_COLUMNS or None, `times`
    answer_times()'s field. Every field of the field table in its order (secrets as set, with when; never their
    values), then its times and its status block."""
    fields = dict(zip(TASK_FIELDS, values))
    data = redact_task(fields)
    created_at, updated_at = values[len(TASK_FIELDS):]
    data["created_at"] = times.to_representation(created_at)
    data["updated_at"] = times.to_representation(updated_at)
    data["status"] = status_json(fields["task_id"], fields["task_enabled"], zone_name(fields["task_timezone"]),
                                 status)
    return data


def task_json_of(task, times) -> dict:
    """task_json of a task instance."""
    return task_json([getattr(task, column) for column in TASK_COLUMNS], _status_columns(task), times)


def list_rows():
    """All tasks as the list's rows (LIST_COLUMNS), to filter and page: a clone of one queryset made once per
    process, as DRF clones a view's queryset. Resolving the 37 names of values_list() at each request cost 0.45 ms
    of a list's CPU; the shared queryset itself is never evaluated, so no request sees another's rows."""
    return _all_rows().all()


@functools.cache
def _all_rows():
    return Task.objects.values_list(*LIST_COLUMNS)


def list_json(rows) -> list[dict]:
    """task_json of each row of list_rows()."""
    times = answer_times()
    split = len(TASK_COLUMNS)
    return [task_json(row[:split], None if row[split] is None else row[split + 1:], times) for row in rows]
