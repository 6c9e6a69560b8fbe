"""/api/calendars and the calendar in /api/tasks: custom calendars created, edited and deleted by operators (read
by viewers), bad input named field by field, the days of any calendar, and next-run skipping excluded days."""
import zoneinfo

from auditlog.models import LogEntry

from tasks_app.models import Calendar, Task

from .conftest import simple_task

FREEZE = {"name": "ops", "base": "cn-workdays", "added_dates": ["2025-10-12"], "removed_dates": ["2025-10-09"],
          "ranges": [{"start": "2025-10-20", "end": "2025-10-24", "label": "freeze"}], "description": "Ops days"}


def test_an_operator_creates_a_calendar_a_viewer_reads_it_and_its_days_follow_the_base_and_the_changes(
        operator_client, viewer_client):
    created = operator_client.post("/api/calendars", FREEZE, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["ranges"] == [{"start": "2025-10-20", "end": "2025-10-24", "label": "freeze"}]
    assert viewer_client.get("/api/calendars/ops").json()["base"] == "cn-workdays"
    days = viewer_client.get("/api/calendars/ops/days?from=2025-10-07&to=2025-10-21").json()
    runs = {day["date"]: day["runs"] for day in days}
    assert (runs["2025-10-07"], runs["2025-10-09"], runs["2025-10-10"], runs["2025-10-11"], runs["2025-10-12"],
            runs["2025-10-20"]) == (False, False, True, True, True, False)
    assert days[-1]["reason"] == "not a working day in ops (range 2025-10-20..2025-10-24: freeze)"
    assert LogEntry.objects.filter(additional_data__event="calendar.created").count() == 1


def test_the_days_of_a_built_in_calendar_and_its_list_are_there_for_viewers(viewer_client):
    days = viewer_client.get("/api/calendars/cn-workdays/days?from=2025-09-28&to=2025-10-01").json()
    assert [d["runs"] for d in days] == [True, True, True, False]
    names = viewer_client.get("/api/calendars/builtin").json()["names"]
    assert names[:3] == ["cn-workdays", "cn-holidays", "weekdays"] and "us-workdays" in names
    assert "usa-workdays" not in names and "chn-workdays" not in names
    assert viewer_client.get("/api/calendars/nowhere/days").status_code == 404
    bad = viewer_client.get("/api/calendars/weekdays/days?from=2025-13-01")
    assert bad.status_code == 400 and "from" in bad.json()


def test_a_viewer_cannot_change_calendars(viewer_client):
    assert viewer_client.post("/api/calendars", FREEZE, format="json").status_code == 403
    Calendar.objects.create(name="ops")
    assert viewer_client.patch("/api/calendars/ops", {"base": "weekdays"}, format="json").status_code == 403
    assert viewer_client.delete("/api/calendars/ops").status_code == 403


def test_bad_calendars_are_refused_naming_the_field_and_the_value(operator_client):
    answer = operator_client.post("/api/calendars", {
        "name": "weekdays", "base": "moon-workdays", "added_dates": ["2025-02-30", "tomorrow"],
        "ranges": [{"start": "2025-10-05", "end": "2025-10-01"}]}, format="json")
    assert answer.status_code == 400
    errors = answer.json()
    assert "built-in calendar" in errors["name"][0]
    assert "moon-workdays" in errors["base"][0]
    assert any("2025-02-30" in e for e in errors["added_dates"]) and any("tomorrow" in e for e in errors["added_dates"])
    assert "ends before it starts" in errors["ranges"][0]
    assert operator_client.post("/api/calendars", {"name": "x", "ranges": "soon"}, format="json").status_code == 400


def test_a_calendar_that_a_task_names_cannot_be_deleted_or_renamed(operator_client):
    operator_client.post("/api/calendars", FREEZE, format="json")
    assert operator_client.post("/api/tasks", simple_task("report", task_calendar="ops"),
                                format="json").status_code == 201
    refused = operator_client.delete("/api/calendars/ops")
    assert refused.status_code == 400 and "report" in refused.json()["name"][0]
    assert operator_client.patch("/api/calendars/ops", {"name": "ops2"}, format="json").status_code == 400
    assert operator_client.patch("/api/tasks/report", {"task_calendar": ""}, format="json").status_code == 200
    assert operator_client.delete("/api/calendars/ops").status_code == 204
    assert LogEntry.objects.filter(additional_data__event="calendar.deleted").count() == 1


def test_a_task_must_name_an_existing_calendar(operator_client):
    answer = operator_client.post("/api/tasks", simple_task("report", task_calendar="mars"), format="json")
    assert answer.status_code == 400 and "mars" in answer.json()["task_calendar"][0]


def test_next_run_skips_the_days_the_calendar_excludes_and_names_it(operator_client, viewer_client):
    operator_client.post("/api/tasks", simple_task("report", task_schedule="0 9 * * *", task_timezone="Asia/Shanghai",
                                                   task_calendar="cn-workdays"), format="json")
    answer = viewer_client.get("/api/tasks/report/next-run?after=2025-09-30T12:00:00%2B08:00&count=3").json()
    assert answer["calendar"] == "cn-workdays"
    assert answer["next_run_times"] == ["2025-10-09T09:00:00+08:00", "2025-10-10T09:00:00+08:00",
                                        "2025-10-11T09:00:00+08:00"]
    Task.objects.filter(task_id="report").update(task_calendar="")
    assert viewer_client.get("/api/tasks/report/next-run").json()["calendar"] is None


def test_editing_a_calendar_refreshes_the_next_run_of_the_tasks_on_it(operator_client):
    operator_client.post("/api/calendars", {"name": "ops"}, format="json")
    operator_client.post("/api/tasks", simple_task("report", task_schedule="0 9 * * *", task_calendar="ops"),
                         format="json")
    task = Task.objects.get(task_id="report")
    before = task.status.next_run_time
    day = before.astimezone(zoneinfo.ZoneInfo(task.timezone_name)).date()
    operator_client.patch("/api/calendars/ops", {"removed_dates": [day.isoformat()]}, format="json")
    task.status.refresh_from_db()
    assert task.status.next_run_time > before


def test_the_cron_preview_skips_the_days_of_a_calendar(viewer_client):
    answer = viewer_client.get("/api/cron/preview?expr=0+9+*+*+*&tz=Asia/Shanghai&calendar=cn-workdays"
                               "&after=2025-09-30T12:00:00%2B08:00&count=2").json()
    assert answer["calendar"] == "cn-workdays"
    assert answer["next_run_times"] == ["2025-10-09T09:00:00+08:00", "2025-10-10T09:00:00+08:00"]
    bad = viewer_client.get("/api/cron/preview?expr=0+9+*+*+*&calendar=mars")
    assert bad.status_code == 400 and "mars" in bad.json()["calendar"][0]


def test_task_calendar_is_written_to_conf_tasks_json_only_when_set(operator_client, settings,
                                                                   django_capture_on_commit_callbacks):
    import json

    with django_capture_on_commit_callbacks(execute=True):  # the file is written once the change is committed
        operator_client.post("/api/tasks", simple_task("plain"), format="json")
        operator_client.post("/api/tasks", simple_task("report", task_calendar="cn-workdays"), format="json")
    tasks = {t["task_id"]: t for t in json.loads((settings.CONF_DIR / "tasks.json").read_text())["tasks"]}
    assert tasks["report"]["task_calendar"] == "cn-workdays" and "task_calendar" not in tasks["plain"]


def test_a_nul_character_in_a_description_or_a_range_label_is_refused_naming_the_field(operator_client):
    # PostgreSQL refuses NUL in text and \u0000 in jsonb: without the check, a 500 there.
    cases = [({"name": "nul1", "description": "a\x00b"}, "description"),
             ({"name": "nul2", "ranges": [{"start": "2025-10-01", "end": "2025-10-02", "label": "a\x00b"}]}, "ranges")]
    for body, field in cases:
        answer = operator_client.post("/api/calendars", body, format="json")
        assert answer.status_code == 400 and "NUL" in answer.json()[field][0], answer.json()
    assert not Calendar.objects.exists()


def test_a_calendar_cannot_take_a_name_that_a_page_or_the_api_uses_for_something_else(operator_client):
    # /calendars/new is the form and /api/calendars/builtin the list of built-in names: a calendar so named
    # could never be shown, changed or deleted there. A built-in name in other letters would only confuse.
    for name in ("new", "builtin", "CN-workdays", "Weekdays"):
        answer = operator_client.post("/api/calendars", {"name": name}, format="json")
        assert answer.status_code == 400 and name in answer.json()["name"][0], answer.json()
    assert not Calendar.objects.exists()


def test_a_calendar_stored_under_a_name_now_taken_can_still_be_edited(operator_client):
    Calendar.objects.create(name="new", base="weekdays")  # saved before the name was refused
    answer = operator_client.patch("/api/calendars/new", {"description": "kept"}, format="json")
    assert answer.status_code == 200 and answer.json()["description"] == "kept", answer.json()
