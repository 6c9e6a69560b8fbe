"""The custom APScheduler trigger and the job store: fire times come from tasks_app.cron, and the Django job
store's next_run_time is right for the day-of-week / day-of-month cases APScheduler's CronTrigger gets wrong."""
import pickle
import zoneinfo
from datetime import datetime, time, timedelta, timezone

import pytest
from django_apscheduler.models import DjangoJob

from tasks_app.engine.trigger import CronSlotTrigger
from tasks_app.models import TaskStatus

UTC = timezone.utc


def local_nine_oclock_after(now, zone, matches):
    """The first 09:00 local time after `now` on a day for which matches(date) is true (brute force)."""
    tz = zoneinfo.ZoneInfo(zone)
    day = now.astimezone(tz).date()
    for _ in range(400):
        candidate = datetime.combine(day, time(9, 0), tzinfo=tz)
        if candidate > now and matches(day):
            return candidate.astimezone(UTC)
        day += timedelta(days=1)
    raise AssertionError("no match within 400 days")


def test_it_fires_every_third_minute_on_the_minute():
    trigger = CronSlotTrigger("*/3 * * * *", "Europe/Berlin")
    now = datetime(2024, 5, 6, 10, 1, 17, tzinfo=UTC)
    fires, previous = [], None
    for _ in range(5):
        previous = trigger.get_next_fire_time(previous, now)
        fires.append(previous)
    assert [f.strftime("%H:%M:%S") for f in fires] == ["10:03:00", "10:06:00", "10:09:00", "10:12:00", "10:15:00"]
    assert all(f.tzinfo is not None and f.utcoffset() == timedelta(0) for f in fires)


def test_a_slot_exactly_now_is_not_fired_again_but_the_next_one_is():
    trigger = CronSlotTrigger("*/3 * * * *", "UTC")
    slot = datetime(2024, 5, 6, 10, 3, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, slot) == slot + timedelta(minutes=3)
    assert trigger.get_next_fire_time(slot, slot + timedelta(seconds=1)) == slot + timedelta(minutes=3)


def test_it_reads_the_expression_in_the_tasks_zone_across_a_clock_change():
    trigger = CronSlotTrigger("30 2 * * *", "Europe/Berlin")
    # 2024-03-31: Berlin skips 02:00-03:00; cronie runs a skipped 02:30 job right after the jump (01:00 UTC).
    fire = trigger.get_next_fire_time(None, datetime(2024, 3, 30, 12, 0, tzinfo=UTC))
    assert fire == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)


def test_it_survives_pickling_as_the_job_store_does():
    trigger = CronSlotTrigger("0 9 * * 0", "Asia/Shanghai")
    copy = pickle.loads(pickle.dumps(trigger))
    assert copy == trigger and str(copy) == "cron[0 9 * * 0] in Asia/Shanghai"
    now = datetime(2024, 5, 6, tzinfo=UTC)
    assert copy.get_next_fire_time(None, now) == trigger.get_next_fire_time(None, now)


def test_a_bad_expression_is_refused_with_the_field_named():
    with pytest.raises(ValueError, match="minute"):
        CronSlotTrigger("61 * * * *", "UTC")


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Shanghai"])
def test_the_job_store_holds_the_next_sunday_and_the_next_friday_or_13th(start_engine, make_task, zone):
    make_task("sunday", task_schedule="0 9 * * 0", task_timezone=zone)
    make_task("friday-or-13th", task_schedule="0 9 13 * 5", task_timezone=zone)
    before = datetime.now(UTC)
    start_engine()
    stored = dict(DjangoJob.objects.values_list("id", "next_run_time"))

    sunday = stored["sunday"]
    assert sunday == local_nine_oclock_after(before, zone, lambda d: d.weekday() == 6)
    local = sunday.astimezone(zoneinfo.ZoneInfo(zone))
    assert (local.strftime("%A"), local.hour, local.minute) == ("Sunday", 9, 0)

    either = stored["friday-or-13th"]
    assert either == local_nine_oclock_after(before, zone, lambda d: d.weekday() == 4 or d.day == 13)
    # The task list shows the same time without computing cron per row.
    assert TaskStatus.objects.get(task__task_id="sunday").next_run_time == sunday
    assert TaskStatus.objects.get(task__task_id="friday-or-13th").next_run_time == either
