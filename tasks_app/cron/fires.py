"""Fire times of a cron expression: wall-clock minutes in the task's zone, turned into aware UTC instants the
way cronie treats clock changes (skipped and repeated hours)."""

from __future__ import annotations

import bisect
import functools
import itertools
import zoneinfo
from typing import NamedTuple
from datetime import date, datetime, timedelta, timezone, tzinfo

from .expression import _Schedule, _schedule, validate_expression
from .words import describe

UTC = timezone.utc

# Day patterns repeat within 40 years (a Feb 29 that is a given weekday can be 40 years away across 2100),
# so a search this long finds every expression that can fire at all and stays cheap for those that never do.
_HORIZON = timedelta(days=41 * 366)
_LAST_WALL_TIME = datetime(9998, 12, 31)
# Longer than any clock change, so the start of a search sees a repeated hour that begins soon after it.
_CLOCK_CHANGE_REACH = timedelta(days=1)


def _zone(tz: str | tzinfo) -> tzinfo:
    return zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz


def _aware(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


def _wall_time(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _wall_times(schedule: _Schedule, start: datetime, stop: datetime):
    """Matching local wall-clock minutes from `start` to `stop` (naive), ascending, jumping over whole days."""
    day, hour_floor, minute_floor = start.date(), start.hour, start.minute
    while day <= stop.date():
        if day.month not in schedule.months:
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        else:
            if schedule.fires_on(day):
                for hour in schedule.hours[bisect.bisect_left(schedule.hours, hour_floor) :]:
                    minutes = schedule.minutes
                    if hour == hour_floor:
                        minutes = minutes[bisect.bisect_left(minutes, minute_floor) :]
                    for minute in minutes:
                        wall = datetime(day.year, day.month, day.day, hour, minute)
                        if wall > stop:
                            return
                        yield wall
            day += timedelta(days=1)
        hour_floor = minute_floor = 0


def _clock_jump(zone: tzinfo, before: datetime, after: datetime) -> datetime:
    """The instant between `before` and `after` (UTC) at which the zone's clocks jumped forward."""
    new_offset = after.astimezone(zone).utcoffset()
    low, high = 0, int((after - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(zone).utcoffset() == new_offset:
            high = middle
        else:
            low = middle
    return before + timedelta(seconds=high)


def _instants(wall: datetime, zone: tzinfo, wildcard_time: bool) -> tuple[datetime | None, datetime | None]:
    """When a wall time fires: (first or only instant, second instant in a repeated hour), aware UTC."""
    local = wall.replace(tzinfo=zone)
    earlier, later = local.utcoffset(), local.replace(fold=1).utcoffset()
    first = (wall - earlier).replace(tzinfo=UTC)
    if earlier == later:
        return first, None
    if earlier > later:  # clocks went back: this wall time happens twice
        return first, ((wall - later).replace(tzinfo=UTC) if wildcard_time else None)
    if wildcard_time:  # clocks jumped forward over this wall time
        return None, None
    return _clock_jump(zone, (wall - later).replace(tzinfo=UTC), first), None


def _fires(schedule: _Schedule, zone: tzinfo, after: datetime, stop: datetime):
    """Fire instants strictly after `after`, ascending, for wall times up to `stop`."""
    # The second pass of a repeated hour is later than `after` although its wall time may be earlier than
    # after's: start from the smaller of the offsets now and soon after, to see it.
    lead = min(after.astimezone(zone).utcoffset(), (after + _CLOCK_CHANGE_REACH).astimezone(zone).utcoffset())
    start = (after + lead).replace(tzinfo=None, second=0, microsecond=0)
    held: list[datetime] = []  # second passes wait until every first pass of the repeated hour is out
    last = after
    for wall in _wall_times(schedule, start, stop):
        first, second = _instants(wall, zone, schedule.wildcard_time)
        if first is not None:
            while held and held[0] < first:
                instant = held.pop(0)
                if instant > last:
                    yield instant
                    last = instant
            if first > last:  # also drops skipped times that fire together when clocks jump
                yield first
                last = first
        if second is not None:
            held.append(second)
    yield from (instant for instant in held if instant > last)


def next_fire_times(expr: str, tz: str | tzinfo, after: datetime, count: int = 5) -> list[datetime]:
    """The next `count` fire times strictly after `after` (aware, any zone), as aware UTC datetimes."""
    schedule, zone, after = _schedule(expr)[1], _zone(tz), _aware(after, "after")
    stop = min(_wall_time(after, zone) + _HORIZON, _LAST_WALL_TIME)
    return list(itertools.islice(_fires(schedule, zone, after, stop), max(count, 0)))


def next_fire_after(expr: str, tz: str | tzinfo, after: datetime) -> datetime | None:
    """The first fire time strictly after `after`, aware UTC; None if the expression never fires."""
    return _first_fire_after(expr, tz, _aware(after, "after"))


# The engine asks this once per fire, for the slot just fired: in a burst, the tasks due together that share an
# expression (a thousand "0 0 * * *" at midnight) ask the same question, and each paid a search over days (15-52
# us, 5-6 % of the engine thread's CPU per run; docs/performance.md, eleventh pass). The answer depends only on
# the arguments and is immutable, so it is kept. `after` is keyed as UTC: two aware times in one zone compare and
# hash equal by their wall time, fold ignored, so the two passes of a repeated hour would share one answer. An
# exception (a bad expression) is never kept.
@functools.lru_cache(maxsize=1024)
def _first_fire_after(expr, tz, after):
    times = next_fire_times(expr, tz, after, 1)
    return times[0] if times else None


def fire_times_between(
    expr: str, tz: str | tzinfo, start: datetime, end: datetime, limit: int = 10000
) -> list[datetime]:
    """Fire times t with start < t <= end, aware UTC, at most `limit` of them (the earliest)."""
    schedule, zone = _schedule(expr)[1], _zone(tz)
    start, end = _aware(start, "start"), _aware(end, "end")
    # A day past end's wall time covers wall times that happen before `end` in a repeated hour.
    stop = min(_wall_time(end, zone) + timedelta(days=1), _LAST_WALL_TIME)
    times = []
    for instant in _fires(schedule, zone, start, stop):
        if instant > end or len(times) >= limit:
            break
        times.append(instant)
    return times


class Preview(NamedTuple):
    expression: str  # as validate_expression gives it back
    description: str  # in words, in the asked language
    times: list  # the next fire times, aware, in the asked zone


def preview(expr: str, tz: str | tzinfo, after: datetime, count: int = 5, lang: str | None = "en") -> Preview:
    """What the form's live preview and the API's cron check show for an expression. Raises CronError for a bad
    expression, OverflowError when `after` is too far in the future."""
    normalized, zone = validate_expression(expr), _zone(tz)
    times = next_fire_times(normalized, zone, after, count)
    return Preview(normalized, describe(normalized, lang), [t.astimezone(zone) for t in times])
