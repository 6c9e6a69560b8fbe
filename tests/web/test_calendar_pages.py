"""The calendar pages: the list of built-in and custom calendars, a calendar's month with each excluded day and
why, and the form operators create and edit a custom calendar with (viewers cannot)."""
from tasks_app.models import Calendar


def test_a_calendars_month_marks_the_days_without_runs_and_says_why(as_viewer):
    html = as_viewer.get("/calendars/cn-workdays?month=2025-10").content.decode()
    assert 'data-date="2025-10-01" data-runs="no"' in html and 'data-date="2025-10-11" data-runs="yes"' in html
    assert "2025-10-08</span>: not a working day in cn-workdays" in html
    assert as_viewer.get("/calendars/nowhere").status_code == 404
    assert as_viewer.get("/calendars/weekdays?month=garbage").status_code == 200


def test_an_operator_creates_a_calendar_from_the_form_and_bad_lines_are_named(as_operator):
    bad = as_operator.post("/calendars/new", {"name": "ops", "base": "weekdays", "added_dates": "2025-10-11\nsoon",
                                              "removed_dates": "", "ranges": "2025-12-20..2026-01-02 freeze\nlater"})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "soon" in html and "later" in html
    good = as_operator.post("/calendars/new", {"name": "ops", "base": "weekdays", "added_dates": "2025-10-11",
                                               "removed_dates": "2025-10-13, 2025-10-14",
                                               "ranges": "2025-12-20..2026-01-02 year-end freeze"})
    assert good.status_code == 302 and good["Location"] == "/calendars/ops"
    calendar = Calendar.objects.get(name="ops")
    assert calendar.removed_dates == ["2025-10-13", "2025-10-14"]
    assert calendar.ranges == [{"start": "2025-12-20", "end": "2026-01-02", "label": "year-end freeze"}]
    assert "year-end freeze" in as_operator.get("/calendars/ops/edit").content.decode()
    assert "ops" in as_operator.get("/calendars").content.decode()


def test_a_viewer_cannot_create_edit_or_delete_a_calendar(as_viewer):
    Calendar.objects.create(name="ops")
    assert as_viewer.get("/calendars/new").status_code == 403
    assert as_viewer.post("/calendars/new", {"name": "x"}).status_code == 403
    assert as_viewer.post("/calendars/ops/delete").status_code == 403
    assert Calendar.objects.filter(name="ops").exists()


def test_the_cron_preview_skips_the_days_of_the_calendar_chosen(as_viewer, time_machine):
    from datetime import datetime, timezone

    time_machine.move_to(datetime(2025, 9, 30, 12, tzinfo=timezone.utc), tick=False)
    html = as_viewer.get("/tasks/cron-preview?expr=0+9+*+*+*&tz=Asia/Shanghai&calendar=cn-workdays").content.decode()
    assert "skipping the days cn-workdays excludes" in html
    assert "2025-10-09 09:00" in html and "2025-10-01 09:00" not in html
    bad = as_viewer.get("/tasks/cron-preview?expr=0+9+*+*+*&tz=UTC&calendar=nowhere")
    assert bad.status_code == 400 and "nowhere" in bad.content.decode()


def test_the_task_form_offers_the_calendars_and_the_task_page_names_its_calendar(as_operator, make_task):
    Calendar.objects.create(name="ops")
    form = as_operator.get("/tasks/new").content.decode()
    assert '<option value="ops">ops</option>' in form and '<option value="cn-workdays">' in form
    make_task("report", task_calendar="cn-workdays")
    page = as_operator.get("/tasks/report/view").content.decode()
    assert 'href="/calendars/cn-workdays"' in page and "skipping the days cn-workdays excludes" in page


def test_a_month_or_a_range_at_the_end_of_time_is_no_500(as_viewer, viewer):
    assert as_viewer.get("/calendars/weekdays?month=9999-12").status_code == 200
    assert as_viewer.get("/calendars/weekdays?month=0001-01").status_code == 200
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(viewer)
    assert api.get("/api/calendars/weekdays/days?from=9999-12-31").status_code == 200
    assert api.get("/api/calendars/weekdays/days?from=9999-12-01&to=9999-12-31").status_code == 200


def test_markup_in_a_range_label_or_a_description_is_shown_as_text(as_operator):
    answer = as_operator.post("/calendars/new", {"name": "ops", "description": "<b onmouseover=alert(1)>ops</b>",
                                                 "ranges": '2025-10-01..2025-10-02 "><script>alert(2)</script>'})
    assert answer.status_code == 302, answer.content.decode()
    for url in ("/calendars/ops?month=2025-10", "/calendars", "/calendars/ops/edit"):
        html = as_operator.get(url).content.decode()
        assert "<script>alert(2)" not in html and "<b onmouseover" not in html, url
    month = as_operator.get("/calendars/ops?month=2025-10").content.decode()
    assert "&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in month


def test_a_calendar_named_new_cannot_be_made_from_the_form(as_operator):
    answer = as_operator.post("/calendars/new", {"name": "new"})
    assert answer.status_code == 400 and "new" in answer.content.decode()
    assert not Calendar.objects.exists()
