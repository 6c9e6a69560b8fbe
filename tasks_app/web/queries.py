"""The pages' queries, written to stay fast with 50,000 tasks and a million executions:
stored statuses (no cron per row), indexed orderings, and history pages without COUNT(*)."""
import json
from collections import Counter

from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import get_language

from tasks_app import cron, params
from tasks_app.definition.tags import tag_param
from tasks_app.models import NEVER_RUN, TASK_STATES, ExecutionStatus, Task

LAST_RESULTS = [*ExecutionStatus.finished(), NEVER_RUN]
# A page number beyond this is refused: its OFFSET would overflow SQLite's integers long before.
MAX_PAGE = 1_000_000


def filter_tasks(query, errors):
    """The task list for ?q= &state= &last= &tag=; a bad value is noted in `errors` (a params.Errors) and ignored."""
    text = errors.read(params.text, query, "q")
    tasks = Task.objects.select_related("status").search((text or "").strip())
    tasks = tasks.in_state(errors.read(params.choice, query, "state", TASK_STATES))
    tasks = tasks.last_result(errors.read(params.choice, query, "last", LAST_RESULTS))
    tasks = tasks.tagged(errors.read(tag_param, query, "tag"))
    return tasks.order_by("task_id")


def tag_cloud() -> list:
    """[(tag, number of tasks)] of every tag in use, by name. One column of every task is read as text and only
    each distinct list is parsed: tasks share a few sets of tags, and decoding 50,000 JSON lists one by one took
    200 ms of the list page. (It reads the index on task_tags, not the table: migration 0017.)"""
    lists = Counter(Task.objects.exclude(task_tags=[]).annotate(text=Cast("task_tags", TextField()))
                    .values_list("text", flat=True).order_by())
    counts = Counter()
    for text, tasks in lists.items():
        for tag in set(json.loads(text) or ()):
            counts[tag] += tasks
    return sorted(counts.items())


def filter_executions(executions, query, errors, zone=None):
    """The history for ?status= &since= &until= (days, both included; a queued run counts by its queue time)."""
    zone = zone or timezone.get_current_timezone()
    status = errors.read(params.choice, query, "status", ExecutionStatus.values)
    if status:
        executions = executions.filter(status=status)
    start = errors.read(params.day, query, "since", zone)
    if start:
        executions = executions.filter(Q(start_time__gte=start) | Q(start_time__isnull=True, queued_at__gte=start))
    end = errors.read(params.day, query, "until", zone, end=True)
    if end:
        executions = executions.filter(Q(start_time__lt=end) | Q(start_time__isnull=True, queued_at__lt=end))
    return executions


def describe(expr):
    """The schedule in words in the page's language, or "" for an empty or broken one."""
    if not expr:
        return ""
    try:
        return cron.describe(expr, get_language())
    except ValueError:
        return ""


class CheapPage:
    """A page of rows found with LIMIT size+1: tells whether a next page exists without counting them all.
    A page number that is not a number counts as 1; one past MAX_PAGE as MAX_PAGE (an empty page)."""

    def __init__(self, queryset, number, size):
        try:
            number = min(max(1, int(number)), MAX_PAGE)
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
