"""The filters of the API's task list and of a task's executions. Parameters are read by tasks_app.params (a bad
value is a 400 naming the parameter and the value, through errors.py), states by tasks_app.task_state."""
from datetime import timezone as dt_timezone

from tasks_app import params, task_state
from tasks_app.models import ExecutionStatus, Trigger

# The API's name for "never ran" (the pages say "never").
LAST_STATUSES = [*ExecutionStatus.values, "none"]


def filter_tasks(queryset, request):
    """?enabled=true|false &status=running|idle|disabled &last_status=success|failed|...|none &search=text"""
    query = request.query_params
    enabled = params.boolean(query, "enabled")
    if enabled is not None:
        queryset = queryset.filter(task_enabled=enabled)
    queryset = task_state.filter_state(queryset, params.choice(query, "status", task_state.STATES))
    last = params.choice(query, "last_status", LAST_STATUSES)
    queryset = task_state.filter_last_status(queryset, task_state.NEVER if last == "none" else last)
    return task_state.search(queryset, params.text(query, "search"))


def filter_executions(queryset, request, tz):
    """?status=... &trigger=... &since=ISO &until=ISO (on start_time)"""
    query = request.query_params
    status = params.choice(query, "status", ExecutionStatus.values)
    if status:
        queryset = queryset.filter(status=status)
    trigger = params.choice(query, "trigger", Trigger.values)
    if trigger:
        queryset = queryset.filter(trigger=trigger)
    # In UTC before the database sees them: PostgreSQL refuses offsets past 15:59 that Python accepts (-19:30).
    since = params.moment(query, "since", tz)
    if since:
        queryset = queryset.filter(start_time__gte=since.astimezone(dt_timezone.utc))
    until = params.moment(query, "until", tz)
    if until:
        queryset = queryset.filter(start_time__lte=until.astimezone(dt_timezone.utc))
    return queryset
