"""Business calendars with the real chinesecalendar and holidays data: which days a task on a calendar runs, the
next fire times that skip the other days, and the engine's Starter recording a slot on an excluded day skipped."""
from datetime import date, datetime, timedelta, timezone

import pytest
from django.core.management import call_command

from tasks_app import cron, workdays
from tasks_app.definition.loader import TaskLoader, TaskValidationError
from tasks_app.engine import policy
from tasks_app.engine.plan import StartRequest
from tasks_app.engine.registry import RunRegistry
from tasks_app.engine.starts import Starter
from tasks_app.models import (
    Calendar,
    ExecutionStatus,
    Incident,
    IncidentKind,
    Task,
    TaskExecution,
    Trigger,
    calendar_named,
)

pytestmark = pytest.mark.django_db
SHANGHAI = "Asia/Shanghai"
# October 2025's working days by the State Council's notice: National Day and Mid-Autumn 1-8 October off,
# Saturday 11 October a make-up working day (Sunday 28 September was the other one).
OCTOBER_2025_WORKING_DAYS = [9, 10, 11, 13, 14, 15, 16, 17, 20, 21, 22, 23, 24, 27, 28, 29, 30, 31]


def make(task_id, **fields):
    values = {"task_name": f"Task {task_id}", "task_exec": "tasks/test_task.py", "task_schedule": "0 9 * * *",
              "task_timezone": SHANGHAI}
    return Task.objects.create(task_id=task_id, **{**values, **fields})


def test_cn_workdays_knows_national_day_2025_and_its_make_up_working_weekend_days():
    rule = calendar_named("cn-workdays")
    assert [rule.verdict(date(2025, 10, day)).runs for day in range(1, 9)] == [False] * 8
    assert rule.verdict(date(2025, 9, 28)).runs  # a Sunday
    assert rule.verdict(date(2025, 10, 11)).runs  # a Saturday
    assert not rule.verdict(date(2025, 10, 12)).runs  # an ordinary Sunday
    assert "not a working day in cn-workdays" in rule.verdict(date(2025, 10, 1)).reason
    cn_holidays = calendar_named("cn-holidays")
    assert cn_holidays.verdict(date(2025, 10, 3)).runs and not cn_holidays.verdict(date(2025, 10, 11)).runs


def test_a_countrys_workdays_come_from_the_holidays_package_and_weekdays_is_monday_to_friday():
    us = calendar_named("us-workdays")
    assert not us.verdict(date(2025, 7, 4)).runs and "Independence Day" in us.verdict(date(2025, 7, 4)).reason
    assert us.verdict(date(2025, 7, 3)).runs and not us.verdict(date(2025, 7, 5)).runs
    weekdays = calendar_named("weekdays")
    assert weekdays.verdict(date(2025, 10, 1)).runs and not weekdays.verdict(date(2025, 10, 11)).runs
    assert calendar_named("xx-workdays") is None and calendar_named("nowhere") is None
    assert "us-workdays" in workdays.builtin_names() and workdays.builtin_names()[0] == "cn-workdays"


def test_a_daily_task_on_cn_workdays_fires_in_october_2025_on_exactly_the_working_days():
    task = make("report", task_calendar="cn-workdays")
    times = task.next_fire_times(18, datetime(2025, 9, 30, 12, tzinfo=timezone.utc))
    assert [t.astimezone(cron._zone(SHANGHAI)).day for t in times] == OCTOBER_2025_WORKING_DAYS
    assert all(t.astimezone(cron._zone(SHANGHAI)).hour == 9 for t in times)
    assert task.next_run_time(datetime(2025, 9, 30, 12, tzinfo=timezone.utc)) == datetime(2025, 10, 9, 1,
                                                                                          tzinfo=timezone.utc)


def test_the_engine_runs_a_cn_workdays_task_on_the_working_days_of_october_2025_and_skips_the_others(time_machine):
    """Every slot of October 2025 goes through the engine's Starter at its own moment (the clock driven by
    time-machine), as the scheduler's fires do."""
    task = make("report", task_calendar="cn-workdays")
    starter = Starter(RunRegistry(), worker="test-worker")
    slots = cron.fire_times_between("0 9 * * *", SHANGHAI, datetime(2025, 9, 30, 12, tzinfo=timezone.utc),
                                    datetime(2025, 10, 31, 12, tzinfo=timezone.utc))
    assert len(slots) == 31
    for slot in slots:
        time_machine.move_to(slot, tick=False)
        plan = starter.plan([StartRequest(task.task_id, Trigger.SCHEDULE, slot=slot)], [], now=slot)
        for execution in plan.run:  # the run ends before the next day's slot
            TaskExecution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.SUCCESS)
    ran = TaskExecution.objects.filter(task=task, status=ExecutionStatus.SUCCESS).order_by("scheduled_time")
    assert [e.scheduled_time.astimezone(cron._zone(SHANGHAI)).day for e in ran] == OCTOBER_2025_WORKING_DAYS
    skipped = TaskExecution.objects.filter(task=task, status=ExecutionStatus.SKIPPED).order_by("scheduled_time")
    assert skipped.count() == 31 - 18
    assert skipped[0].error_message.startswith("not a working day in cn-workdays (")
    assert "2025-10-01" in skipped[0].error_message


def test_a_custom_calendar_adds_and_removes_days_and_ranges_on_its_base():
    Calendar.objects.create(name="ops", base="weekdays", added_dates=["2025-10-11"], removed_dates=["2025-10-13"],
                            ranges=[{"start": "2025-12-20", "end": "2026-01-02", "label": "year-end freeze"}])
    rule = calendar_named("ops")
    assert rule.verdict(date(2025, 10, 11)).runs  # Saturday added
    assert not rule.verdict(date(2025, 10, 13)).runs  # Monday removed
    assert "2025-10-13 is removed" in rule.verdict(date(2025, 10, 13)).reason
    frozen = rule.verdict(date(2025, 12, 22))
    assert not frozen.runs and frozen.reason == ("not a working day in ops (range 2025-12-20..2026-01-02: "
                                                 "year-end freeze)")
    assert rule.verdict(date(2026, 1, 5)).runs and not rule.verdict(date(2026, 1, 3)).runs
    Calendar.objects.create(name="freeze-only", ranges=[{"start": "2025-10-01", "end": "2025-10-02", "label": ""}])
    free = calendar_named("freeze-only")
    assert free.verdict(date(2025, 10, 4)).runs and not free.verdict(date(2025, 10, 2)).runs


def test_a_minutely_task_skips_a_long_freeze_without_walking_every_minute():
    Calendar.objects.create(name="frozen", ranges=[{"start": "2025-01-01", "end": "2027-06-30", "label": ""}])
    task = make("busy", task_schedule="* * * * *", task_calendar="frozen")
    times = task.next_fire_times(2, datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert [t.astimezone(cron._zone(SHANGHAI)) for t in times] == [
        datetime(2027, 7, 1, 0, 0, tzinfo=cron._zone(SHANGHAI)),
        datetime(2027, 7, 1, 0, 1, tzinfo=cron._zone(SHANGHAI))]


def test_a_freeze_longer_than_the_search_limit_is_passed_at_once_and_an_added_day_inside_it_still_runs():
    # Day by day, a four-year freeze passed the search's three years of excluded days: no next run at all.
    Calendar.objects.create(name="frozen", ranges=[{"start": "2026-01-01", "end": "2029-12-31", "label": "migration"}])
    task = make("daily", task_schedule="0 9 * * *", task_calendar="frozen")
    after = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert [t.date() for t in task.next_fire_times(2, after)] == [date(2030, 1, 1), date(2030, 1, 2)]
    Calendar.objects.filter(name="frozen").update(added_dates=["2028-05-05"])
    assert [t.date() for t in task.next_fire_times(2, after)] == [date(2028, 5, 5), date(2030, 1, 1)]


def test_a_freeze_to_the_end_of_time_gives_no_next_run_and_no_error():
    Calendar.objects.create(name="closed", ranges=[{"start": "2000-01-01", "end": "9999-12-31", "label": ""}])
    task = make("never", task_schedule="* * * * *", task_calendar="closed")
    assert task.next_fire_times(5, datetime(2026, 1, 1, tzinfo=timezone.utc)) == []
    assert task.next_fire_times(5, datetime(8999, 12, 31, tzinfo=timezone.utc)) == []


def test_a_year_without_data_falls_back_to_monday_to_friday_and_each_run_says_so(time_machine):
    year = workdays.CN_LAST_YEAR + 1
    monday = next(date(year, 1, d) for d in range(1, 8) if date(year, 1, d).weekday() == 0)
    verdict = calendar_named("cn-workdays").verdict(monday)
    assert verdict.runs and f"no data for {year}" in verdict.fallback
    assert not calendar_named("cn-workdays").verdict(monday + timedelta(days=5)).runs
    task = make("later", task_calendar="cn-workdays")
    slot = datetime(monday.year, monday.month, monday.day, 1, tzinfo=timezone.utc)
    time_machine.move_to(slot, tick=False)
    plan = Starter(RunRegistry(), worker="w").plan([StartRequest("later", Trigger.SCHEDULE, slot=slot)], [], now=slot)
    assert len(plan.run) == 1 and "Monday to Friday assumed" in TaskExecution.objects.get(pk=plan.run[0].pk).note
    incident = Incident.objects.get(kind=IncidentKind.CALENDAR_DATA)
    assert incident.key == f"cn-workdays:{year}" and "no data" in incident.detail
    tuesday = slot + timedelta(days=1)
    time_machine.move_to(tuesday, tick=False)
    plan = Starter(RunRegistry(), worker="w").plan([StartRequest("later", Trigger.SCHEDULE, slot=tuesday)], [],
                                                   now=tuesday)
    assert "Monday to Friday assumed" in TaskExecution.objects.get(pk=plan.run[0].pk).note  # every run says so
    assert Incident.objects.filter(kind=IncidentKind.CALENDAR_DATA).count() == 1  # one alert per calendar and year


def test_the_calendar_rule_of_the_engine_names_a_missing_calendar_and_lets_the_slot_run():
    assert policy.on_calendar("", None) == (None, "")
    assert policy.on_calendar("gone", None) == (None, "calendar gone does not exist: run as if the task had no "
                                                      "calendar")


def test_task_calendar_must_name_an_existing_calendar():
    Calendar.objects.create(name="ops")
    data = {"task_id": "t", "task_name": "T", "task_exec": "tasks/test_task.py", "task_schedule": "0 9 * * *"}
    assert TaskLoader().clean({**data, "task_calendar": "ops"})["task_calendar"] == "ops"
    assert TaskLoader().clean({**data, "task_calendar": "jp-workdays"})["task_calendar"] == "jp-workdays"
    with pytest.raises(TaskValidationError) as refused:
        TaskLoader().clean({**data, "task_calendar": "mars-workdays"})
    assert "task_calendar" in refused.value.errors
    assert "mars-workdays" in str(refused.value.errors["task_calendar"])


def test_manage_py_check_warns_from_the_autumn_before_a_year_without_data(time_machine):
    make("report", task_calendar="cn-workdays")
    from tasks_app.checks import calendar_data_warnings

    time_machine.move_to(datetime(workdays.CN_LAST_YEAR, 6, 1, tzinfo=timezone.utc), tick=False)
    assert calendar_data_warnings() == []
    time_machine.move_to(datetime(workdays.CN_LAST_YEAR, 10, 1, tzinfo=timezone.utc), tick=False)
    (warning,) = calendar_data_warnings()
    assert f"{workdays.CN_LAST_YEAR + 1}" in warning.msg and "cn-workdays" in warning.msg
    call_command("check")  # a warning, not an error


def test_a_built_in_calendar_name_is_matched_exactly_so_cn_workdays_is_never_holidays_without_tiaoxiu():
    # "CN-workdays" used to pass as the holidays package's China, which knows no make-up working days: a task
    # naming it would skip Sunday 28 September 2025, a working day in cn-workdays.
    for name in ("CN-workdays", "Cn-workdays", "US-workdays", "us-Workdays"):
        assert not workdays.is_builtin(name) and calendar_named(name) is None, name
    assert workdays.is_builtin("us-workdays") and workdays.is_builtin("cn-workdays")
    assert calendar_named("cn-workdays").verdict(date(2025, 9, 28)).runs
    with pytest.raises(TaskValidationError) as refused:
        TaskLoader().clean({"task_id": "report", "task_name": "Report", "task_exec": "tasks/test_task.py",
                            "task_schedule": "0 9 * * *", "task_calendar": "CN-workdays"})
    assert "CN-workdays" in str(refused.value)


def test_a_country_calendar_past_the_years_the_holidays_package_knows_falls_back_and_says_so():
    # Sri Lanka's holidays end with 2026 in the pinned holidays package: 2027's days are a guess, said on each run.
    first, last = workdays.country_years("LK")
    assert last == 2026 and workdays.has_data("lk-workdays", 2026) and not workdays.has_data("lk-workdays", 2027)
    assert workdays.verdict("lk-workdays", date(2026, 2, 4)) == (False, "")  # Independence Day, a known holiday
    guessed = workdays.verdict("lk-workdays", date(2027, 3, 1))  # a Monday
    assert guessed.runs and "lk-workdays has no data for 2027" in guessed.fallback
    assert not workdays.verdict("lk-workdays", date(2027, 3, 6)).runs  # Saturday
    assert calendar_named("lk-workdays").verdict(date(2027, 3, 1)).fallback == guessed.fallback
    assert workdays.has_data("us-workdays", 2099) and workdays.has_data("weekdays", 3000)
