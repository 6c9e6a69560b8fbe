"""The pages' queries, written to stay fast with 10,000 tasks and a million executions:
stored statuses (no cron per row), indexed orderings, and history pages without COUNT(*)."""
import zoneinfo
from datetime import datetime, time, timedelta

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from tasks_app import cron
from tasks_app.models import ExecutionStatus, Task

STATES = [("running", _("Running")), ("idle", _("Idle")), ("disabled", _("Disabled"))]


def filter_tasks(tasks, *, search="", state="", last=""):
    if search:
        tasks = tasks.filter(
            Q(task_id__icontains=search) | Q(task_name__icontains=search) | Q(task_desc__icontains=search)
        )
    if state == "running":
        tasks = tasks.filter(status__running=True)
    elif state == "disabled":
        tasks = tasks.filter(task_enabled=False).exclude(status__running=True)
    elif state == "idle":
        tasks = tasks.filter(task_enabled=True).exclude(status__running=True)
    if last == "never":
        tasks = tasks.filter(Q(status__isnull=True) | Q(status__last_status=""))
    elif last in ExecutionStatus.values:
        tasks = tasks.filter(status__last_status=last)
    return tasks.order_by("task_id")


def next_times(task, count=5):
    """The next fire times of an enabled, scheduled task, as aware datetimes in the task's zone."""
    if not task.task_enabled or not task.task_schedule:
        return []
    zone_name = task.timezone_name
    try:
        zone = zoneinfo.ZoneInfo(zone_name)
        times = cron.next_fire_times(task.task_schedule, zone_name, timezone.now(), count)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return []
    return [t.astimezone(zone) for t in times]


def describe(expr):
    """The schedule in words in the page's language, or "" for an empty or broken one."""
    if not expr:
        return ""
    try:
        return cron.describe(expr, get_language())
    except ValueError:
        return ""


def dependents_of(task):
    """Tasks whose task_dependencies name this one."""
    if connection.features.supports_json_field_contains:
        return list(Task.objects.filter(task_dependencies__contains=[task.task_id]).order_by("task_id"))
    # SQLite has no JSON containment: narrow with a text match, then check the lists themselves.
    candidates = Task.objects.filter(task_dependencies__icontains=f'"{task.task_id}"').order_by("task_id")
    return [t for t in candidates if task.task_id in (t.task_dependencies or [])]


def parse_day(text, zone):
    """A yyyy-mm-dd from a date input, as that day's midnight in `zone`; None when empty or malformed."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except (ValueError, AttributeError):
        return None
    return datetime.combine(day, time.min, tzinfo=zone)


def filter_executions(executions, *, status="", since="", until="", zone=None):
    """Filters of the history page; since/until are days, both included. Returns (queryset, errors)."""
    zone = zone or timezone.get_current_timezone()
    errors = {}
    if status:
        if status in ExecutionStatus.values:
            executions = executions.filter(status=status)
        else:
            errors["status"] = _("Unknown status %(value)r.") % {"value": status}
    for name, value in (("since", since), ("until", until)):
        if value and parse_day(value, zone) is None:
            errors[name] = _("%(value)r is not a date (yyyy-mm-dd).") % {"value": value}
    start, end = parse_day(since, zone), parse_day(until, zone)
    if start:
        executions = executions.filter(Q(start_time__gte=start) | Q(start_time__isnull=True, queued_at__gte=start))
    if end:
        end = end + timedelta(days=1)
        executions = executions.filter(Q(start_time__lt=end) | Q(start_time__isnull=True, queued_at__lt=end))
    return executions, errors


class CheapPage:
    """A page of rows found with LIMIT size+1: tells whether a next page exists without counting them all."""

    def __init__(self, queryset, number, size):
        try:
            number = max(1, int(number))
        except (TypeError, ValueError):
            number = 1
        offset = (number - 1) * size
        rows = list(queryset[offset:offset + size + 1])
        self.number = number
        self.object_list = rows[:size]
        self.has_next = len(rows) > size
        self.has_previous = number > 1
        self.start_index = offset + 1 if rows else 0
        self.end_index = offset + len(self.object_list)

    @property
    def next_page_number(self):
        return self.number + 1

    @property
    def previous_page_number(self):
        return self.number - 1
