"""Counting fire times without listing them (tasks_app.cron.count_fire_times, last_fire_times), checked against
the listing itself (fire_times_between) on random expressions, zones with every kind of clock change, and spans
that start and end anywhere, on and around the days the clocks change."""
import random
import zoneinfo
from datetime import datetime, timedelta, timezone

import pytest

from tasks_app.cron import CronError, count_fire_times, fire_times_between, last_fire_times
from tests.test_cron import random_expression

UTC = timezone.utc
EVERYTHING = 2**62
# Zones whose clocks change at 02:00 or 03:00, at midnight (Santiago, Havana, Beirut), by 30 minutes (Lord Howe),
# by 45 minutes' offsets (Chatham), across a whole day (Apia skipped 2011-12-30), or never.
ZONES = ["UTC", "Asia/Shanghai", "Asia/Kolkata", "Europe/Berlin", "America/New_York", "America/Santiago",
         "America/Havana", "Asia/Beirut", "Australia/Lord_Howe", "Pacific/Chatham", "Pacific/Apia", "Asia/Tehran",
         "Europe/London", "America/Sao_Paulo"]


def listed(expr, zone, start, end):
    return len(fire_times_between(expr, zone, start, end, limit=EVERYTHING))


def clock_changes(zone_name, year):
    """Instants (UTC, to the hour) at which the zone's offset changes during the year."""
    zone, found = zoneinfo.ZoneInfo(zone_name), []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(zone).utcoffset()
    while moment.year == year:
        moment += timedelta(hours=1)
        if moment.astimezone(zone).utcoffset() != offset:
            offset = moment.astimezone(zone).utcoffset()
            found.append(moment)
    return found


def random_span(rng, zone):
    """(start, end): half the time around one of the zone's clock changes, with odd seconds at either end."""
    changes = clock_changes(zone, rng.choice([2011, 2016, 2024]))
    if changes and rng.random() < 0.6:
        middle = rng.choice(changes)
    else:
        middle = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 3 * 366 * 24 * 60))
    start = middle - timedelta(seconds=rng.randint(0, 3 * 24 * 3600))
    end = middle + timedelta(seconds=rng.randint(0, 3 * 24 * 3600))
    if rng.random() < 0.3:  # on the minute, where a slot sits on the boundary itself
        start, end = start.replace(second=0), end.replace(second=0)
    return start, end


def test_counting_gives_the_number_of_times_listed_for_random_expressions_zones_and_spans():
    rng, differ = random.Random(20261130), []
    for _ in range(600):
        expr, zone = random_expression(rng), rng.choice(ZONES)
        start, end = random_span(rng, zone)
        counted, expected = count_fire_times(expr, zone, start, end), listed(expr, zone, start, end)
        if counted != expected:
            differ.append((expr, zone, start.isoformat(), end.isoformat(), counted, expected))
    assert not differ, f"{len(differ)} of 600 differ, e.g. {differ[:3]}"


@pytest.mark.parametrize("expr", ["* * * * *", "*/7 * * * *", "30 2 * * *", "0 */2 * * *", "15,45 1-3 * * *",
                                  "0 0 * * *", "59 23 * * *", "* 0 * * *"])
@pytest.mark.parametrize("zone, day", [
    ("Europe/Berlin", "2024-03-31"), ("Europe/Berlin", "2024-10-27"), ("America/New_York", "2024-11-03"),
    ("America/Santiago", "2024-04-07"), ("America/Santiago", "2024-09-08"), ("Australia/Lord_Howe", "2024-04-07"),
    ("Pacific/Apia", "2011-12-30"), ("America/Havana", "2024-03-10"),
])
def test_counting_agrees_with_the_listing_across_each_kind_of_clock_change(expr, zone, day):
    middle = datetime.fromisoformat(day).replace(tzinfo=zoneinfo.ZoneInfo(zone))
    for hours_before, hours_after in [(30, 30), (1, 3), (0, 48), (50, 0), (23, 1)]:
        start, end = middle - timedelta(hours=hours_before), middle + timedelta(hours=hours_after)
        assert count_fire_times(expr, zone, start, end) == listed(expr, zone, start, end), (hours_before, hours_after)


def test_a_day_of_every_minute_is_1440_slots_and_a_leap_year_527040():
    midnight = datetime(2024, 1, 1, tzinfo=UTC)
    assert count_fire_times("* * * * *", "UTC", midnight, midnight + timedelta(days=1)) == 1440
    assert count_fire_times("* * * * *", "Asia/Shanghai", midnight, midnight + timedelta(days=366)) == 527040
    # Berlin's 2024 loses an hour in March and gets it back in October: the same number of real minutes.
    assert count_fire_times("* * * * *", "Europe/Berlin", midnight, midnight + timedelta(days=366)) == 527040


def test_counting_honours_the_day_rules_either_day_and_both_days():
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    # the 13th of any month or any Friday (52 Fridays in 2024, 12 13ths, 2 of them Fridays: Sep and Dec)
    assert count_fire_times("0 0 13 * 5", "UTC", start - timedelta(seconds=1), end) == 52 + 12 - 2
    assert count_fire_times("0 0 */13 * 5", "UTC", start, end) == listed("0 0 */13 * 5", "UTC", start, end)
    assert count_fire_times("0 0 30 2 *", "UTC", start, end + timedelta(days=3650)) == 0


def test_an_empty_or_backwards_span_counts_nothing_and_a_bad_expression_is_refused():
    moment = datetime(2024, 5, 1, tzinfo=UTC)
    assert count_fire_times("* * * * *", "UTC", moment, moment) == 0
    assert count_fire_times("* * * * *", "UTC", moment, moment - timedelta(days=1)) == 0
    with pytest.raises(CronError):
        count_fire_times("61 * * * *", "UTC", moment, moment + timedelta(days=1))
    with pytest.raises(ValueError, match="aware"):
        count_fire_times("* * * * *", "UTC", datetime(2024, 1, 1), moment)


def test_the_last_fire_times_are_the_tail_of_the_listing():
    rng = random.Random(7)
    for _ in range(150):
        expr, zone = random_expression(rng), rng.choice(ZONES)
        start, end = random_span(rng, zone)
        times = fire_times_between(expr, zone, start, end, limit=EVERYTHING)
        assert last_fire_times(expr, zone, end, 2, after=start) == times[-2:], (expr, zone, start, end)


def test_the_last_fire_times_of_a_yearly_task_are_found_years_back_without_listing_minutes():
    end = datetime(2030, 6, 1, tzinfo=UTC)
    assert last_fire_times("0 0 1 1 *", "UTC", end, 2) == [datetime(2029, 1, 1, tzinfo=UTC),
                                                            datetime(2030, 1, 1, tzinfo=UTC)]
    assert last_fire_times("0 0 30 2 *", "UTC", end, 2) == []
