"""Cron expressions read the way cronie reads them: the syntax of the five fields, macros, and validation."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date


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

