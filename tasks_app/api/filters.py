"""The filters of the API's task list and of a task's executions. Parameters are read by tasks_app.params (a bad
value is a 400 naming the parameter and the value, through errors.py), states by the TaskQuerySet (models/task.py)."""
from datetime import datetime, timezone as dt_timezone
from typing import NamedTuple

from tasks_app import params
from tasks_app.definition.tags import tag_param
from tasks_app.models import NEVER_RUN, TASK_STATES, ExecutionStatus, Trigger

# The API's name for "never ran" (the pages say "never").
LAST_STATUSES = [*ExecutionStatus.values, "none"]


TASK_FILTERS = ("enabled", "status", "last_status", "tag", "search")


def filter_tasks(queryset, request):
    """?enabled=true|false &status=running|idle|disabled &last_status=success|failed|...|none &tag=word
    &search=text"""
    return filter_tasks_by(queryset, request.query_params)


def filter_tasks_by(queryset, query):
    """The task list's filters read from `query` (the query string, or POST /api/bulk's "filter" object)."""
    enabled = params.boolean(query, "enabled")
    if enabled is not None:
        queryset = queryset.filter(task_enabled=enabled)
    queryset = queryset.in_state(params.choice(query, "status", TASK_STATES))
    last = params.choice(query, "last_status", LAST_STATUSES)
    queryset = queryset.last_result(NEVER_RUN if last == "none" else last)
    queryset = queryset.tagged(tag_param(query))
    return queryset.search(params.text(query, "search"))


class TimeWindow(NamedTuple):
    """?since= &until= of a history, on start_time, in UTC; the pager applies it together with its cursor."""

    since: datetime | None = None
    until: datetime | None = None


def filter_executions(queryset, request, tz):
    """?status=... &trigger=... filter the queryset; ?since=ISO &until=ISO come back as a TimeWindow:
    (queryset, window). The pager applies the window (pagination.py): a bound its cursor already implies is left
    out, so that the database ranges its index on the cursor."""
    query = request.query_params
    status = params.choice(query, "status", ExecutionStatus.values)
    if status:
        queryset = queryset.filter(status=status)
    trigger = params.choice(query, "trigger", Trigger.values)
    if trigger:
        queryset = queryset.filter(trigger=trigger)
    since = params.moment(query, "since", tz)
    until = params.moment(query, "until", tz)
    return queryset, TimeWindow(_utc(since), _utc(until))


def _utc(moment):
    # Before the database sees it: PostgreSQL refuses offsets past 15:59 that Python accepts (-19:30).
    return moment.astimezone(dt_timezone.utc) if moment else None
