"""The dashboard's timeline: the last 24 hours and the next 24 hours, one row per task. Each past run is a bar
coloured by its status and as long as it ran; each future slot a mark; "now" in the middle. Geometry only (drawn
as SVG by the page, returned as JSON by the API): runs come from the (task, start_time) index for the tasks of one
page, slots from tasks_app.cron, less the days the task's calendar excludes.

A bar narrower than a unit of the drawing merges with the next one of the same status that touches it (a task that
runs every minute has 1,440 runs a day: one bar per run would be a megabyte of SVG that nobody can tell apart),
keeping how many runs it stands for; the first run of a merged bar is the one clicking opens."""
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tasks_app import cron
from tasks_app.models import ExecutionStatus, TaskExecution

HOURS = 24  # on each side of now
WIDTH = 960.0  # units of the drawing for the 48 hours: one unit is 3 minutes
LEFT = 190.0  # the task ids' column, left of the hours
TOP, ROW_HEIGHT = 26.0, 20.0
MAX_MARKS = 240  # future slots drawn one by one; a task firing more often is drawn as a band
MIN_WIDTH = 1.0


@dataclass
class Bar:
    x: float
    width: float
    status: str
    execution_id: int
    start: datetime
    end: datetime | None
    duration: float | None
    runs: int = 1


@dataclass
class Row:
    task_id: str
    task_name: str
    enabled: bool
    bars: list = field(default_factory=list)
    marks: list = field(default_factory=list)  # (x, slot) of the next 24 hours' slots
    band: tuple | None = None  # (x, width, count) when it fires more than MAX_MARKS times
    y: float = 0.0


@dataclass
class Timeline:
    start: datetime
    now: datetime
    end: datetime
    rows: list
    width: float = WIDTH
    left: float = LEFT

    @property
    def height(self) -> float:
        return TOP + ROW_HEIGHT * len(self.rows) + 6

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def now_x(self) -> float:
        return self.x_of(self.now)

    def x_of(self, moment) -> float:
        share = (moment - self.start).total_seconds() / (self.end - self.start).total_seconds()
        return self.left + share * self.width

    def hours(self):
        """(x, datetime) of every 3rd hour on the axis, from the window's first whole hour."""
        first = self.start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return [(self.x_of(first + timedelta(hours=h)), first + timedelta(hours=h))
                for h in range(0, 2 * HOURS, 3)]


def build(tasks, now: datetime) -> Timeline:
    """The timeline of `tasks` (a page of them: a list of Task) around `now`."""
    start, end = now - timedelta(hours=HOURS), now + timedelta(hours=HOURS)
    line = Timeline(start=start, now=now, end=end, rows=[])
    rows = {task.pk: Row(task.task_id, task.task_name, task.task_enabled) for task in tasks}
    runs = (TaskExecution.objects.filter(task__in=list(rows), start_time__gte=start, start_time__lte=now)
            .exclude(status=ExecutionStatus.QUEUED).order_by("task", "start_time")
            .values_list("task", "execution_id", "status", "start_time", "end_time", "duration"))
    for task_pk, execution_id, status, began, ended, duration in runs:
        _add_bar(line, rows[task_pk], execution_id, status, began, ended, duration)
    calendars = {}  # a calendar's rule, read once for the page
    for task in tasks:
        _add_slots(line, rows[task.pk], task, now, end, calendars)
    line.rows = [rows[task.pk] for task in tasks]
    for index, row in enumerate(line.rows):
        row.y = TOP + ROW_HEIGHT * index
    return line


def _add_bar(line, row, execution_id, status, began, ended, duration):
    finish = ended or (line.now if status == ExecutionStatus.RUNNING else began)
    x = line.x_of(began)
    width = max(line.x_of(min(finish, line.now)) - x, MIN_WIDTH)
    last = row.bars[-1] if row.bars else None
    if last is not None and last.status == status and x <= last.x + last.width and (
            last.width <= MIN_WIDTH * 2 or width <= MIN_WIDTH):
        last.width = max(last.x + last.width, x + width) - last.x
        last.runs += 1
        last.end = ended
        return
    row.bars.append(Bar(x, width, status, execution_id, began, ended, duration))


def _add_slots(line, row, task, now, end, calendars):
    """The next 24 hours' slots, less those on days the task's calendar excludes (as the task page's next runs)."""
    if not task.task_enabled or not task.task_schedule:
        return
    try:
        zone = zoneinfo.ZoneInfo(task.timezone_name)
        slots = cron.fire_times_between(task.task_schedule, zone, now, end, limit=MAX_MARKS + 1)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return
    if task.task_calendar:
        if task.task_calendar not in calendars:
            calendars[task.task_calendar] = task.calendar_rule()
        rule = calendars[task.task_calendar]
        if rule is not None:
            runs = {}
            for slot in slots:
                day = slot.astimezone(zone).date()
                if day not in runs:
                    runs[day] = rule.verdict(day).runs
            slots = [slot for slot in slots if runs[slot.astimezone(zone).date()]]
    if len(slots) > MAX_MARKS:
        row.band = (line.x_of(slots[0]), line.right - line.x_of(slots[0]), len(slots))
        return
    row.marks = [(line.x_of(slot), slot) for slot in slots]
