"""Cron expressions read the way cronie reads them: validation, a description in words, and fire times.
The only module that knows cron; times go in as aware datetimes in any zone and come out as aware UTC."""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import zoneinfo
from dataclasses import dataclass
from typing import NamedTuple
from datetime import date, datetime, timedelta, timezone, tzinfo

from cron_descriptor import CasingTypeEnum, ExpressionDescriptor, Options

__all__ = ["CronError", "validate_expression", "describe", "next_fire_times", "next_fire_after", "fire_times_between",
           "preview"]

UTC = timezone.utc

# Day patterns repeat within 40 years (a Feb 29 that is a given weekday can be 40 years away across 2100),
# so a search this long finds every expression that can fire at all and stays cheap for those that never do.
_HORIZON = timedelta(days=41 * 366)
_LAST_WALL_TIME = datetime(9998, 12, 31)
# Longer than any clock change, so the start of a search sees a repeated hour that begins soon after it.
_CLOCK_CHANGE_REACH = timedelta(days=1)


class CronError(ValueError):
    """Invalid cron expression: `field` names the part that is wrong, `value` is its text."""

    _LABELS = {"day_of_month": "day of month", "day_of_week": "day of week"}

    def __init__(self, field: str, value: str, reason: str):
        super().__init__(field, value, reason)  # keeps the error picklable
        self.field, self.value, self.reason = field, value, reason

    def __str__(self):
        return f"Invalid {self._LABELS.get(self.field, self.field)} {self.value!r}: {self.reason}"


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_MONTHS = {name: n for n, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_DAYS = {name: n for n, name in enumerate("sun mon tue wed thu fri sat".split())}
_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day_of_month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day_of_week", 0, 7, _DAYS),  # 0 and 7 are both Sunday
)
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class _Schedule:
    fields: tuple[str, ...]  # the five fields as written, macros expanded
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # datetime.weekday() numbers: Monday 0 .. Sunday 6
    either_day: bool
    wildcard_time: bool

    def fires_on(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom, dow = day.day in self.days, day.weekday() in self.weekdays
        return (dom or dow) if self.either_day else (dom and dow)


def _number(field: _Field, text: str, item: str, token: str) -> int:
    if token.isascii() and token.isdigit():
        value = int(token)
    elif field.names and token.lower() in field.names:
        value = field.names[token.lower()]
    elif not token:
        raise CronError(field.name, text, f"{item!r} is missing a number")
    else:
        expected = "a number or a three-letter name" if field.names else "a number"
        raise CronError(field.name, text, f"{token!r} is not {expected}")
    if not field.low <= value <= field.high:
        raise CronError(field.name, text, f"{value} is outside {field.low}-{field.high}")
    return value


def _parse_field(field: _Field, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(field.name, text, "the list has an empty item")
        base, slash, step_text = item.partition("/")
        if base == "*":
            start, end = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(field, text, item, first), _number(field, text, item, last)
            if start > end and field.names is _DAYS and last.lower() == "sun":
                end = 7  # cronie reads `fri-sun` as 5-0 and rejects it; Sunday is also 7, so take what it says
            if start > end:
                raise CronError(field.name, text, f"the range {base} runs backwards; cron ranges do not wrap around")
        else:
            start = _number(field, text, item, base)
            # `5/10` means 5-59/10, as croniter and most crons read it (cronie itself rejects it).
            end = field.high if slash else start
        step = 1
        if slash:
            if not (step_text.isascii() and step_text.isdigit()):
                raise CronError(field.name, text, f"the step {step_text!r} in {item!r} is not a number")
            step = int(step_text)
            if step == 0:
                raise CronError(field.name, text, f"a step of 0 in {item!r} never advances")
            if step > field.high - field.low:
                # Old crons quietly fire once per range and newer cronie warns; refuse rather than guess what was meant.
                raise CronError(field.name, text, f"the step {step} is larger than {field.low}-{field.high} allows")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@functools.lru_cache(maxsize=4096)
def _parse(expr: str) -> tuple[str, _Schedule]:
    words = expr.split()
    if len(words) == 1 and words[0].startswith("@"):
        normalized = words[0].lower()
        if normalized == "@reboot":
            raise CronError("expression", words[0], "@reboot runs once at boot and has no schedule")
        if normalized not in _MACROS:
            raise CronError("expression", words[0], f"unknown macro; use one of {', '.join(_MACROS)}")
        words = _MACROS[normalized].split()
    elif not words:
        raise CronError("expression", "", "the expression is empty")
    elif len(words) != 5:
        reason = f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(words)}"
        if len(words) == 6:
            reason += "; seconds and years are not supported"
        raise CronError("expression", " ".join(words), reason)
    else:
        normalized = " ".join(words)
    minutes, hours, days, months, dows = (_parse_field(f, w) for f, w in zip(_FIELDS, words))
    # cronie's DOM_STAR/DOW_STAR: a day field written with a leading `*` (even `*/2`) makes the other decide alone.
    dom_star, dow_star = words[2].startswith("*"), words[4].startswith("*")
    schedule = _Schedule(
        fields=tuple(words),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=days,
        months=months,
        weekdays=frozenset((d - 1) % 7 for d in dows),
        either_day=not (dom_star or dow_star),
        # cronie's MIN_STAR|HR_STAR: these jobs follow the real clock, so they fire twice in a repeated hour and
        # not at all in a skipped one; fixed-time jobs fire once on both days (skipped times as soon as clocks jump).
        wildcard_time=words[0].startswith("*") or words[1].startswith("*"),
    )
    return normalized, schedule


def _schedule(expr) -> tuple[str, _Schedule]:
    if not isinstance(expr, str):
        raise CronError("expression", repr(expr), "a cron expression must be text")
    return _parse(expr)


def validate_expression(expr: str) -> str:
    """Return the expression with its whitespace collapsed (macros lowercased), or raise CronError."""
    return _schedule(expr)[0]


# ---- Description ---------------------------------------------------------------------------------------------------

_ZH_NAMES = dict(
    zip(
        "Sunday Monday Tuesday Wednesday Thursday Friday Saturday January February March April May June July "
        "August September October November December".split(),
        "星期日 星期一 星期二 星期三 星期四 星期五 星期六 一月 二月 三月 四月 五月 六月 七月 八月 九月 十月 十一月 十二月".split(),
    )
)
_ZH_NAME_RE = re.compile(r"\b(" + "|".join(_ZH_NAMES) + r")\b")
# (joins "either day" clauses, the "only" word to drop from the day-of-week clause after it)
_EITHER_DAY = {"en_US": (", or ", "only "), "zh_CN": (", 或", "仅")}


def _descriptor_locale(lang: str | None) -> str:
    code = (lang or "en").lower().replace("_", "-")
    return "zh_CN" if code == "zh" or code.startswith("zh-") else "en_US"


def _descriptor_field(field: _Field, text: str) -> str:
    # cron-descriptor misreads some forms cronie accepts: give it numbers, `5` for `5-5`, and `5-7` for `fri-sun`.
    if field.names:
        text = re.sub(r"[A-Za-z]+", lambda m: str(field.names[m.group().lower()]), text)
    text = re.sub(r"\b(\d+)-(\d+)(/\d+)?", lambda m: m[1] if int(m[1]) == int(m[2]) else m[0], text)
    if field.names is _DAYS:
        text = re.sub(r"(?<=\d)-0+\b", "-7", text)
    return text


def describe(expr: str, lang: str | None = "en") -> str:
    """The expression in words, in English or (for zh, zh-hans, zh-cn, zh_CN) Chinese; raises CronError."""
    normalized, schedule = _schedule(expr)
    return _describe(normalized, schedule, _descriptor_locale(lang))


@functools.lru_cache(maxsize=1024)
def _describe(normalized: str, schedule: _Schedule, locale_code: str) -> str:
    options = Options()
    options.locale_code = locale_code
    options.use_24hour_time_format = True
    options.day_of_week_start_index_zero = True
    try:
        descriptor = ExpressionDescriptor(
            " ".join(_descriptor_field(f, w) for f, w in zip(_FIELDS, schedule.fields)), options
        )
        if schedule.either_day:
            # cron-descriptor says "on day 13, only on Friday"; cron fires on either, so say "or".
            joiner, only = _EITHER_DAY[locale_code]
            weekday = descriptor.get_day_of_week_description().removeprefix(", ").replace(only, "", 1)
            text = ExpressionDescriptor.transform_case(
                descriptor.get_time_of_day_description()
                + descriptor.get_day_of_month_description()
                + joiner
                + weekday
                + descriptor.get_month_description(),
                CasingTypeEnum.Sentence,
            )
        else:
            text = descriptor.get_description()
    except Exception:  # a valid schedule cron-descriptor cannot put in words still shows, as written
        return normalized
    if locale_code == "zh_CN":  # cron-descriptor takes day and month names from the process locale (English)
        text = _ZH_NAME_RE.sub(lambda m: _ZH_NAMES[m[1]], text)
    return text


# ---- Fire times ----------------------------------------------------------------------------------------------------


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
