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
    """Exactly one of builtin_names(): "CN-workdays" is none (as the holidays package's China it would know no
    make-up working days), nor "US-workdays"."""
    if name in (WEEKDAYS, CN_WORKDAYS, CN_HOLIDAYS):
        return True
    code = name[: -len(WORKDAYS_SUFFIX)] if name.endswith(WORKDAYS_SUFFIX) else ""
    return code.islower() and code != "cn" and code.upper() in countries()


def _cn_years() -> tuple[int, int]:
    years = sorted({d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays})
    return years[0], years[-1]


CN_FIRST_YEAR, CN_LAST_YEAR = _cn_years()


def has_data(name: str, year: int) -> bool:
    """Whether the calendar knows `year` (chinesecalendar holds the years the State Council has published; the
    holidays package computes a country's holidays for the years its class declares, e.g. Sri Lanka's end with
    2026, most countries' with 2100)."""
    if name in (CN_WORKDAYS, CN_HOLIDAYS):
        return CN_FIRST_YEAR <= year <= CN_LAST_YEAR
    if name != WEEKDAYS and is_builtin(name):
        first, last = country_years(name[: -len(WORKDAYS_SUFFIX)].upper())
        return first <= year <= last
    return True


@functools.cache
def country_years(code: str) -> tuple[int, int]:
    """The years the holidays package has a country's holidays for (outside them it silently has none)."""
    kind = type(_country(code))
    return getattr(kind, "start_year", 1) or 1, getattr(kind, "end_year", 9999) or 9999


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
        code = name[: -len(WORKDAYS_SUFFIX)].upper()
        country = _country(code)
        weekend = getattr(country, "weekend", None) or {5, 6}
        if not has_data(name, day.year):
            # As for cn-workdays: the year's holidays are unknown, so only the weekend is off, and runs say so.
            first, last = country_years(code)
            return Verdict(day.weekday() not in weekend,
                           f"{name} has no data for {day.year} (holidays knows {first}-{last}): only the weekend "
                           f"assumed off; install a newer holidays")
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
