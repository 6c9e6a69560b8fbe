"""The dashboard's figures, the same for the page and GET /api/stats: tasks by state, runs of the last 24 hours by
status, success rates over 24 hours and 7 days, the failing tasks (since when, how many in a row), the slowest
(median and p95, against the week before) and the flakiest (most changes of result), and the open incidents.

Every query ranges an index: the runs' (start_time, status, task, duration) index for the fleet-wide figures (an
index-only scan of the window), a task's (task, start_time) index for its own runs.
Whole hours that are over are read once and kept in the cache, so a page read scans the window's two ends, not
100,000 runs. A tag narrows everything to the tasks that have it."""
import hashlib
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q

from tasks_app.models import ExecutionStatus, Incident, Task, TaskExecution, TaskStatus

FAILED = (ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT, ExecutionStatus.LOST)
# Runs that say something about the task's health: a skipped slot or a run stopped by hand does not.
COUNTED = (ExecutionStatus.SUCCESS, *FAILED)
LIST_SIZE = 10
STREAK_LOOK_BACK = 200  # runs read to count a failing task's failures in a row (more: "at least")
SAMPLE = 500  # a task's latest runs of a week that its median and p95 are read from
HOUR = timedelta(hours=1)
CACHE_SECONDS = 2 * 24 * 3600  # an hour that is over stays in the window for a day


@dataclass
class Failing:
    task_id: str
    task_name: str
    status: str
    in_a_row: int
    since: datetime | None
    at_least: bool = False
    execution_id: int | None = None


@dataclass
class Slow:
    task_id: str
    task_name: str
    runs: int
    median: float
    p95: float
    previous_median: float | None = None

    @property
    def trend(self) -> float | None:
        """This week's median against the week before's, as a ratio minus one (+0.25: a quarter slower)."""
        if not self.previous_median:
            return None
        return self.median / self.previous_median - 1


@dataclass
class Flaky:
    task_id: str
    task_name: str
    changes: int
    runs: int


@dataclass
class Figures:
    now: datetime
    tag: str | None
    tasks: dict = field(default_factory=dict)  # enabled, disabled, running, failing
    runs_24h: dict = field(default_factory=dict)  # status -> count
    success_rate_24h: float | None = None
    success_rate_7d: float | None = None
    failing: list = field(default_factory=list)
    slowest: list = field(default_factory=list)
    flakiest: list = field(default_factory=list)
    incidents: list = field(default_factory=list)


def fleet_figures(now: datetime, tag: str | None = None) -> Figures:
    tasks = Task.objects.tagged(tag)
    figures = Figures(now=now, tag=tag)
    figures.tasks = _task_counts(tasks)
    wanted = set(tasks.values_list("pk", flat=True)) if tag else None
    day = _window(now - timedelta(days=1), now, wanted)
    figures.runs_24h = {s: day.by_status[s] for s in ExecutionStatus.values if day.by_status.get(s)}
    figures.success_rate_24h = _rate(day.by_status)
    figures.success_rate_7d = _rate(_week_counts(now, tasks if tag else None, wanted))
    figures.failing = failing_tasks(tasks)
    figures.slowest = slowest_tasks(day, now)
    figures.flakiest = flakiest_tasks(day)
    incidents = Incident.objects.filter(resolved_at__isnull=True).select_related("task", "execution")
    if tag:
        incidents = incidents.filter(task__in=tasks)
    figures.incidents = list(incidents.order_by("-opened_at")[:LIST_SIZE])
    return figures


class _Hours:
    """What the runs that started in a span say, in start order: runs by status, each task's summed duration and
    count, its first and last result and its changes of result in between. Two spans side by side merge into one
    (a change where one ends and the next begins counts too), so a day is 24 hours read once each."""

    def __init__(self):
        self.by_status, self.total, self.count, self.changes, self.first, self.last = {}, {}, {}, {}, {}, {}
        self.active = False  # a run of the span is still queued or running: its figures will change

    def read(self, start, end, wanted, include_end=False):
        """Add the runs with start <= start_time < end (<= with include_end), from the (start_time, status, task,
        duration) index alone."""
        sql = (f"SELECT task_id, status, duration FROM {TaskExecution._meta.db_table} WHERE start_time >= %s AND "
               f"start_time {'<=' if include_end else '<'} %s ORDER BY start_time")
        with connection.cursor() as cursor:
            cursor.execute(sql, [start, end])
            while rows := cursor.fetchmany(5000):
                self._count(rows, wanted)
        return self

    def _count(self, rows, wanted):
        by_status, total, count, changes, first, last = (self.by_status, self.total, self.count, self.changes,
                                                         self.first, self.last)
        for task, status, duration in rows:
            if wanted is not None and task not in wanted:
                continue
            by_status[status] = by_status.get(status, 0) + 1
            if status not in COUNTED:
                self.active = self.active or status in ExecutionStatus.active()
                continue
            if duration is not None:
                total[task] = total.get(task, 0.0) + duration
                count[task] = count.get(task, 0) + 1
            before = last.get(task)
            if before is None:
                first[task] = status
            elif before != status:
                changes[task] = changes.get(task, 0) + 1
            last[task] = status

    def merge(self, later: "_Hours"):
        for status, n in later.by_status.items():
            self.by_status[status] = self.by_status.get(status, 0) + n
        for task, seconds in later.total.items():
            self.total[task] = self.total.get(task, 0.0) + seconds
            self.count[task] = self.count.get(task, 0) + later.count[task]
        for task, n in later.changes.items():
            self.changes[task] = self.changes.get(task, 0) + n
        for task, status in later.first.items():
            before = self.last.get(task)
            if before is None:
                self.first[task] = status
            elif before != status:
                self.changes[task] = self.changes.get(task, 0) + 1
            self.last[task] = later.last[task]
        self.active = self.active or later.active
        return self

    def means(self):
        return {task: self.total[task] / self.count[task] for task in self.count}


def _window(start, end, wanted) -> _Hours:
    """_Hours of [start, end]. A whole hour that is over and has no run still going is read once and kept in the
    cache (per process, two days), so that a page read reads only the hours at both ends of the window."""
    scope = "all" if wanted is None else hashlib.sha1(",".join(map(str, sorted(wanted))).encode()).hexdigest()
    first_hour = start.replace(minute=0, second=0, microsecond=0) + HOUR
    last_hour = end.replace(minute=0, second=0, microsecond=0)
    found = _Hours().read(start, min(first_hour, end), wanted) if first_hour > start else _Hours()
    hour = first_hour
    while hour + HOUR <= last_hour:
        key = f"insights:hour:{scope}:{hour.isoformat()}"
        part = cache.get(key)
        if part is None:
            part = _Hours().read(hour, hour + HOUR, wanted)
            if not part.active:
                cache.set(key, part, CACHE_SECONDS)
        found.merge(part)
        hour += HOUR
    return found.merge(_Hours().read(max(hour, start), end, wanted, include_end=True))


def _week_counts(now, tasks, wanted) -> dict:
    """Runs by status over the last 7 days: the whole hours before this one counted once an hour (kept in the
    cache), this hour's runs counted live."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    scope = "all" if wanted is None else hashlib.sha1(",".join(map(str, sorted(wanted))).encode()).hexdigest()
    key = f"insights:week:{scope}:{hour.isoformat()}"

    def counts(start, end):
        runs = TaskExecution.objects.filter(start_time__gte=start, start_time__lt=end)
        if tasks is not None:
            runs = runs.filter(task__in=tasks)
        return dict(runs.order_by().values_list("status").annotate(n=Count("pk")))

    before = cache.get(key)
    if before is None:
        before = counts(hour - timedelta(days=7), hour)
        cache.set(key, before, 3600)
    current = counts(hour, now + timedelta(microseconds=1))
    return {s: before.get(s, 0) + current.get(s, 0) for s in set(before) | set(current)}


def _task_counts(tasks) -> dict:
    counts = tasks.aggregate(enabled=Count("pk", filter=Q(task_enabled=True)),
                             disabled=Count("pk", filter=Q(task_enabled=False)),
                             running=Count("pk", filter=Q(status__running=True)),
                             failing=Count("pk", filter=Q(status__last_status__in=FAILED)))
    return {name: counts[name] or 0 for name in ("enabled", "disabled", "running", "failing")}


def _rate(counts: dict) -> float | None:
    """Successes among the runs that ended with a result (success, failed, timeout, lost); None without any."""
    total = sum(counts.get(s, 0) for s in COUNTED)
    return counts.get(ExecutionStatus.SUCCESS, 0) / total if total else None


def failing_tasks(tasks) -> list[Failing]:
    """Tasks whose latest run failed, newest failure first: how many runs in a row failed, since when."""
    statuses = (TaskStatus.objects.filter(task__in=tasks, last_status__in=FAILED).select_related("task")
                .order_by("-last_end_time")[:LIST_SIZE])
    found = []
    for status in statuses:
        recent = list(status.task.executions.filter(status__in=COUNTED, start_time__isnull=False)
                      .order_by("-start_time").values_list("status", "start_time")[:STREAK_LOOK_BACK])
        streak = 0
        for result, _start in recent:
            if result not in FAILED:
                break
            streak += 1
        since = recent[streak - 1][1] if streak else status.last_start_time
        found.append(Failing(status.task.task_id, status.task.task_name, status.last_status, streak, since,
                             at_least=streak == len(recent) == STREAK_LOOK_BACK,
                             execution_id=status.last_execution_id))
    return found


def slowest_tasks(day, now) -> list[Slow]:
    """The tasks with the longest mean run of the last 24 hours, with the median and p95 of their runs of the last
    7 days and the median of the week before (each from that task's latest SAMPLE runs of the week)."""
    top = sorted(day.means().items(), key=lambda item: (-item[1], item[0]))[:LIST_SIZE]
    tasks = {t.pk: t for t in Task.objects.filter(pk__in=[pk for pk, _mean in top]).only("task_id", "task_name")}
    week, before = now - timedelta(days=7), now - timedelta(days=14)
    found = []
    for pk, _mean in top:
        this_week = _durations(pk, week, now)
        previous = _durations(pk, before, week)
        if pk in tasks and this_week:
            found.append(Slow(tasks[pk].task_id, tasks[pk].task_name, len(this_week), statistics.median(this_week),
                              _percentile(this_week, 0.95), statistics.median(previous) if previous else None))
    return found


def _durations(task_pk, start, end) -> list[float]:
    return list(TaskExecution.objects.filter(task_id=task_pk, start_time__gte=start, start_time__lt=end,
                                             status__in=COUNTED, duration__isnull=False)
                .order_by("-start_time").values_list("duration", flat=True)[:SAMPLE])


def _percentile(values, share) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def flakiest_tasks(day) -> list[Flaky]:
    """The tasks whose result changed most often (success to failure and back) in the last 24 hours."""
    top = sorted(day.changes.items(), key=lambda item: (-item[1], item[0]))[:LIST_SIZE]
    tasks = {t.pk: t for t in Task.objects.filter(pk__in=[pk for pk, _n in top]).only("task_id", "task_name")}
    return [Flaky(tasks[pk].task_id, tasks[pk].task_name, changes, day.count.get(pk, 0))
            for pk, changes in top if pk in tasks]
