"""Business calendars a task can name in task_calendar: the built-in ones (tasks_app.workdays) and custom ones
stored here (a base plus dates added and removed and date ranges without runs), and the one rule every page,
the API and the engine ask: does a task on this calendar run on this day, and when does it fire next."""
import bisect
import datetime
import zoneinfo
from typing import NamedTuple

from django.db import models
from django.utils.translation import gettext_lazy as _

from tasks_app import cron, workdays

CALENDAR_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# How many excluded days in a row a search for the next fire times walks over before giving up (a calendar
# frozen for years, or one whose base is "cn-holidays" and removes them all).
MAX_SKIPPED_DAYS = 3 * 366
# The year a search for fire times stops at: the API and pages ask about years up to 9000 at most.
LAST_YEAR = 9000


class Calendar(models.Model):
    """A custom calendar: the days of its base (every day if none), plus `added_dates`, less `removed_dates`
    and the days of its `ranges` (maintenance windows, freezes). An added date runs even inside a range."""

    name = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=500, blank=True, default="")
    base = models.CharField(max_length=64, blank=True, default="", help_text=_("A built-in calendar, or empty"))
    added_dates = models.JSONField(default=list, blank=True)  # ["2025-10-11", ...]
    removed_dates = models.JSONField(default=list, blank=True)
    ranges = models.JSONField(default=list, blank=True)  # [{"start": "...", "end": "...", "label": "..."}]
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def file_entry(self) -> dict:
        """The calendar as conf/tasks.json holds it (its "calendars" list): the name, then each other field only
        when set, so a calendar written by hand round-trips unchanged."""
        entry = {"name": self.name}
        for name in ("description", "base", "added_dates", "removed_dates", "ranges"):
            if getattr(self, name):
                entry[name] = getattr(self, name)
        return entry

    def rule(self) -> "CalendarRule":
        day = datetime.date.fromisoformat
        return CalendarRule(
            self.name, self.base, frozenset(map(day, self.added_dates or ())),
            frozenset(map(day, self.removed_dates or ())),
            tuple((day(r["start"]), day(r["end"]), r.get("label", "")) for r in self.ranges or ()),
        )


class DayVerdict(NamedTuple):
    """Whether a task runs on a day; `reason` says why not (what its skipped run records); `fallback` says the
    calendar guessed (no data for the year)."""
    runs: bool
    reason: str = ""
    fallback: str = ""


class CalendarRule:
    """A calendar resolved for questions: built in (base = its own name, nothing added) or custom."""

    def __init__(self, name, base="", added=frozenset(), removed=frozenset(), ranges=()):
        self.name, self.base, self.added, self.removed, self.ranges = name, base, added, removed, ranges
        self._added_in_order = sorted(added)

    def last_day_of_freeze(self, day: datetime.date) -> datetime.date | None:
        """The last day of the ranges that hold `day`, or the day before the next added date if that comes first
        (every day until then is excluded), so a search for fire times jumps over a freeze at once; None when no
        range holds `day`."""
        last = max((end for start, end, _label in self.ranges if start <= day <= end), default=None)
        if last is None:
            return None
        following = bisect.bisect_right(self._added_in_order, day)
        if following < len(self._added_in_order):
            last = min(last, self._added_in_order[following] - datetime.timedelta(days=1))
        return last

    def verdict(self, day: datetime.date) -> DayVerdict:
        """Does a task on this calendar run on `day` (a date in the task's zone)?"""
        not_working = f"not a working day in {self.name}"
        if day in self.added:
            return DayVerdict(True)
        if day in self.removed:
            return DayVerdict(False, f"{not_working} ({day.isoformat()} is removed from it)")
        for start, end, label in self.ranges:
            if start <= day <= end:
                what = f": {label}" if label else ""
                return DayVerdict(False, f"{not_working} (range {start.isoformat()}..{end.isoformat()}{what})")
        if not self.base:
            return DayVerdict(True)
        runs, fallback = workdays.verdict(self.base, day)
        if runs:
            return DayVerdict(True, "", fallback)
        holiday = workdays.holiday_name(self.base, day)
        detail = f"{holiday}, " if holiday else ""
        return DayVerdict(False, f"{not_working} ({detail}{day.isoformat()}, {day.strftime('%A')})", fallback)

    def fire_times(self, expression: str, zone_name: str, after: datetime.datetime, count: int,
                   until: datetime.datetime | None = None) -> list:
        """The next `count` fire times of the cron expression strictly after `after` on the days this calendar
        runs, aware UTC. A day it excludes is skipped whole, so a minutely task costs one cron step per day.
        With `until` (a backfill's range), those up to it, however many days the calendar excludes on the way."""
        zone = zoneinfo.ZoneInfo(zone_name)
        found, moment, skipped = [], after, 0
        while len(found) < count:
            slot = cron.next_fire_after(expression, zone, moment)
            if slot is None or (until is not None and slot > until):
                break
            day = slot.astimezone(zone).date()
            if self.verdict(day).runs:
                found.append(slot)
                moment = slot
                continue
            skipped += 1
            if skipped > MAX_SKIPPED_DAYS and until is None:
                break
            # A freeze is passed at once (years of it cost one step), another excluded day alone.
            last = max(day, self.last_day_of_freeze(day) or day)
            if last.year >= LAST_YEAR:
                break  # no schedule is asked about that far (and date arithmetic ends at 9999)
            # Just before the next local midnight: the following slot is on another day.
            end_of_day = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time(), zone)
            moment = max(slot, end_of_day.astimezone(datetime.timezone.utc) - datetime.timedelta(microseconds=1))
        return found


def calendar_named(name: str) -> CalendarRule | None:
    """The calendar a task names: built in, custom, or None when there is no such calendar."""
    if not name:
        return None
    if workdays.is_builtin(name):
        return CalendarRule(name, name)
    calendar = Calendar.objects.filter(name=name).first()
    return calendar.rule() if calendar is not None else None


def calendar_exists(name: str) -> bool:
    return workdays.is_builtin(name) or Calendar.objects.filter(name=name).exists()
