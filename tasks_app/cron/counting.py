"""Counting fire times without listing them. After a day of downtime, 10,000 every-minute tasks must learn how
many slots each missed in milliseconds, not by walking 1,440 minutes per task: a local day whose clocks neither
jump nor repeat is counted from the fields (matching hours x matching minutes, on a day the day fields allow);
a day the clocks change on is left to fires.py, which knows cronie's rules for skipped and repeated hours."""

from __future__ import annotations

import bisect
import functools
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from .expression import _Schedule, _schedule
from .fires import _aware, _zone, fire_times_between

UTC = timezone.utc
_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)
_MINUTE = timedelta(minutes=1)
# Near the end of the calendar the day-by-day walk would overflow `date`; there, list the times instead.
_LAST_COUNTED_DAY = date(9998, 11, 30)
# At most 60 x 24 wall minutes, plus a repeated hour, fall in one local day.
_DAY_LIMIT = 24 * 60 + 120


def count_fire_times(expr: str, tz: str | tzinfo, start: datetime, end: datetime) -> int:
    """How many fire times t with start < t <= end: the length fire_times_between would list, without a limit."""
    schedule, zone = _schedule(expr)[1], _zone(tz)
    start, end = _aware(start, "start"), _aware(end, "end")
    if end <= start:
        return 0
    # The UTC line is cut at each local midnight; every fire instant falls in exactly one day's share, whichever
    # wall time it came from (a second pass of a repeated hour, a skipped time fired when the clocks jumped).
    day = start.astimezone(zone).date() - _DAY
    last_day = end.astimezone(zone).date() + _DAY
    if last_day > _LAST_COUNTED_DAY:
        return len(fire_times_between(expr, zone, start, end, limit=2**62))
    begin = _midnight(zone, day)
    total = 0
    while day <= last_day:
        following = day + _DAY
        finish = max(_midnight(zone, following), begin)  # never backwards, so the shares never overlap
        low, high = max(start, begin - _TICK), min(end, finish - _TICK)  # the share (low, high] = [begin, finish)
        if low < high:
            offset = _steady_offset(zone, day)
            if offset is None:
                total += len(fire_times_between(expr, zone, low, high, limit=_DAY_LIMIT))
            elif schedule.fires_on(day):
                midnight = datetime.combine(day, time(0))
                first = (_naive(low + offset) - midnight) // _MINUTE + 1  # minutes of the day, wall time
                last = (_naive(high + offset) - midnight) // _MINUTE
                total += _minutes_before(schedule, min(last, 1439) + 1) - _minutes_before(schedule, max(first, 0))
        day, begin = following, finish
    return total


def last_fire_times(expr: str, tz: str | tzinfo, end: datetime, count: int = 2,
                    after: datetime | None = None) -> list[datetime]:
    """The last `count` fire times t <= end (and t > after, when given), ascending, aware UTC. Looks back in
    doubling windows from `count` minutes, so it lists about `count` times however long the span is."""
    zone, end = _zone(tz), _aware(end, "end")
    floor = _aware(after, "after") if after is not None else end - timedelta(days=41 * 366)
    window = max(count, 1) * _MINUTE
    while True:
        low = max(floor, end - window)
        times = fire_times_between(expr, zone, low, end, limit=2**62)
        if len(times) >= count or low <= floor:
            return times[-count:] if count else []
        window *= 2


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


@functools.lru_cache(maxsize=65536)
def _midnight(zone: tzinfo, day: date) -> datetime:
    """The instant a local day begins (its first reading, should midnight be repeated or skipped), aware UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


@functools.lru_cache(maxsize=65536)
def _steady_offset(zone: tzinfo, day: date) -> timedelta | None:
    """The day's UTC offset if its clocks neither jump nor repeat from its midnight to the next one, else None.
    Both readings (fold 0 and 1) of both midnights must agree, which catches a change at midnight or a repeated
    hour that crosses it; the noon probe catches a change made and undone within the day; and the instant before
    the day begins must agree too: clocks that jumped at midnight fire the times they skipped as the day begins."""
    probes = (datetime.combine(day, time(0), tzinfo=zone), datetime.combine(day, time(12), tzinfo=zone),
              datetime.combine(day + _DAY, time(0), tzinfo=zone))
    offsets = {probe.replace(fold=fold).utcoffset() for probe in probes for fold in (0, 1)}
    offsets.add((_midnight(zone, day) - _TICK).astimezone(zone).utcoffset())
    return offsets.pop() if len(offsets) == 1 else None


def _minutes_before(schedule: _Schedule, minute_of_day: int) -> int:
    """How many of the schedule's (hour, minute) pairs come before this minute of the day (0-1440)."""
    hour, minute = divmod(minute_of_day, 60)
    whole_hours = bisect.bisect_left(schedule.hours, hour)
    this_hour_fires = whole_hours < len(schedule.hours) and schedule.hours[whole_hours] == hour
    in_hour = bisect.bisect_left(schedule.minutes, minute) if this_hour_fires else 0
    return whole_hours * len(schedule.minutes) + in_hour
