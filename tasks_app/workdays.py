"""The built-in business calendars: which days a task on them runs. `cn-workdays` (mainland China's working
days with the make-up weekend days of 调休, from chinesecalendar), `cn-holidays` (the days that are not),
`<country code>-workdays` (the `holidays` package's public holidays and weekend of that country) and
`weekdays`. Pure: no database; custom calendars built on these live in models/calendar.py."""
import datetime
import functools
from typing import NamedTuple

import chinese_calendar
import holidays

WEEKDAYS = "weekdays"
CN_WORKDAYS = "cn-workdays"
CN_HOLIDAYS = "cn-holidays"
WORKDAYS_SUFFIX = "-workdays"
MONDAY_TO_FRIDAY = frozenset(range(5))


class Verdict(NamedTuple):
    """Whether a task on a calendar runs on a day; `fallback` says why the calendar guessed (no data for the
    year: Monday to Friday assumed), empty when it knew."""
    runs: bool
    fallback: str = ""


@functools.cache
def countries() -> frozenset:
    """The two-letter country codes the holidays package knows (upper case; its three-letter aliases are left
    out, so each country has one calendar name)."""
    return frozenset(code.upper() for code in holidays.list_supported_countries() if len(code) == 2)


def builtin_names() -> list[str]:
    """Every built-in calendar name: the Chinese ones first, then weekdays, then each country's workdays."""
    others = sorted(f"{code.lower()}{WORKDAYS_SUFFIX}" for code in countries() if code != "CN")
    return [CN_WORKDAYS, CN_HOLIDAYS, WEEKDAYS, *others]


def is_builtin(name: str) -> bool:
    if name in (WEEKDAYS, CN_WORKDAYS, CN_HOLIDAYS):
        return True
    return name.endswith(WORKDAYS_SUFFIX) and name[: -len(WORKDAYS_SUFFIX)].upper() in countries()


def _cn_years() -> tuple[int, int]:
    years = sorted({d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays})
    return years[0], years[-1]


CN_FIRST_YEAR, CN_LAST_YEAR = _cn_years()


def has_data(name: str, year: int) -> bool:
    """Whether the calendar knows `year` (chinesecalendar holds the years the State Council has published;
    the holidays package computes its countries' holidays for any year)."""
    if name in (CN_WORKDAYS, CN_HOLIDAYS):
        return CN_FIRST_YEAR <= year <= CN_LAST_YEAR
    return True


@functools.cache
def _country(code: str):
    # One object per country; it computes each year's holidays the first time a date of that year is asked.
    return holidays.country_holidays(code)


def verdict(name: str, day: datetime.date) -> Verdict:
    """Whether a task on the built-in calendar `name` runs on `day` (a local date). KeyError: not built in."""
    if name == WEEKDAYS:
        return Verdict(day.weekday() in MONDAY_TO_FRIDAY)
    if name in (CN_WORKDAYS, CN_HOLIDAYS):
        if not has_data(name, day.year):
            # The year's days are published in the autumn before; until a newer chinesecalendar is installed,
            # Monday to Friday is the best guess, and every run says it was one.
            workday = day.weekday() in MONDAY_TO_FRIDAY
            note = (f"{name} has no data for {day.year} (chinesecalendar knows {CN_FIRST_YEAR}-{CN_LAST_YEAR}): "
                    f"Monday to Friday assumed; install a newer chinesecalendar")
            return Verdict(workday if name == CN_WORKDAYS else not workday, note)
        workday = chinese_calendar.is_workday(day)
        return Verdict(workday if name == CN_WORKDAYS else not workday)
    if is_builtin(name):
        country = _country(name[: -len(WORKDAYS_SUFFIX)].upper())
        weekend = getattr(country, "weekend", None) or {5, 6}
        return Verdict(day.weekday() not in weekend and day not in country)
    raise KeyError(name)


def holiday_name(name: str, day: datetime.date) -> str:
    """The holiday that makes `day` a day off in the built-in calendar `name`, or ""."""
    try:
        if name in (CN_WORKDAYS, CN_HOLIDAYS) and has_data(name, day.year):
            found, what = chinese_calendar.get_holiday_detail(day)
            return str(what or "") if found else ""
        if name.endswith(WORKDAYS_SUFFIX) and name != CN_WORKDAYS and is_builtin(name):
            return str(_country(name[: -len(WORKDAYS_SUFFIX)].upper()).get(day) or "")
    except (NotImplementedError, KeyError):
        return ""
    return ""
