"""The dashboard (/dashboard) and GET /api/stats: counts, runs by status, success rates, the failing, slowest and
flakiest tasks, the timeline's bars and marks, the tag filter, and the landing page after login."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks_app.insights import figures, timeline
from tasks_app.models import Incident, Task, TaskExecution, TaskStatus

pytestmark = pytest.mark.django_db


def run(task, status, minutes_ago, seconds=10.0, **fields):
    start = timezone.now() - timedelta(minutes=minutes_ago)
    made = TaskExecution.objects.create(task=task, status=status, trigger="schedule", start_time=start,
                                        end_time=start + timedelta(seconds=seconds), duration=seconds, **fields)
    if status != "skipped":
        TaskStatus.objects.filter(task=task).update(last_status=status, last_execution=made, last_start_time=start,
                                                    last_end_time=made.end_time)
    return made


@pytest.fixture
def fleet(make_task):
    """ok: succeeds; broken: failed three times in a row after a success; flaky: changes result each run;
    off: disabled, tagged billing."""
    ok = make_task("ok", task_schedule="0 * * * *")
    broken = make_task("broken", task_tags=["billing"])
    flaky = make_task("flaky")
    make_task("off", task_enabled=False, task_tags=["billing"])
    for minutes in (300, 240, 180):
        run(ok, "success", minutes, seconds=2)
    run(broken, "success", 200, seconds=50)
    for minutes in (150, 100, 50):
        run(broken, "failed", minutes, seconds=60)
    for index, minutes in enumerate((400, 350, 300, 250, 200)):
        run(flaky, "success" if index % 2 else "failed", minutes, seconds=5)
    run(ok, "success", 60 * 24 * 8, seconds=1)  # the week before: ok got slower
    return {"ok": ok, "broken": broken, "flaky": flaky}


def test_the_figures_count_tasks_runs_and_success_rates(fleet):
    found = figures.fleet_figures(timezone.now())
    assert found.tasks == {"enabled": 3, "disabled": 1, "running": 0, "failing": 2}
    assert found.runs_24h == {"success": 6, "failed": 6}
    assert found.success_rate_24h == pytest.approx(0.5)
    assert found.success_rate_7d == pytest.approx(0.5)


def test_a_failing_task_says_how_many_runs_in_a_row_failed_and_since_when(fleet):
    found = figures.fleet_figures(timezone.now())
    broken = next(f for f in found.failing if f.task_id == "broken")
    assert broken.in_a_row == 3
    first_failure = TaskExecution.objects.filter(task=fleet["broken"], status="failed").order_by("start_time")[0]
    assert broken.since == first_failure.start_time


def test_the_slowest_tasks_have_median_p95_and_the_trend_against_the_week_before(fleet):
    slowest = figures.fleet_figures(timezone.now()).slowest
    assert [s.task_id for s in slowest] == ["broken", "flaky", "ok"]
    assert slowest[0].median == 60 and slowest[0].p95 == 60
    ok = slowest[2]
    assert ok.median == 2 and ok.previous_median == 1 and ok.trend == pytest.approx(1.0)


def test_the_flakiest_task_is_the_one_whose_result_changed_most(fleet):
    flakiest = figures.fleet_figures(timezone.now()).flakiest
    assert [(f.task_id, f.changes) for f in flakiest] == [("flaky", 4), ("broken", 1)]


def test_a_tag_narrows_every_figure_to_its_tasks(fleet):
    found = figures.fleet_figures(timezone.now(), "billing")
    assert found.tasks == {"enabled": 1, "disabled": 1, "running": 0, "failing": 1}
    assert found.runs_24h == {"success": 1, "failed": 3}
    assert [f.task_id for f in found.flakiest] == ["broken"]


def test_the_timeline_has_a_bar_per_run_and_a_mark_per_future_slot(fleet):
    now = timezone.now()
    line = timeline.build(list(Task.objects.order_by("task_id")), now)
    rows = {row.task_id: row for row in line.rows}
    assert [b.status for b in rows["broken"].bars] == ["success", "failed", "failed", "failed"]
    assert len(rows["ok"].marks) == 24  # "0 * * * *" over the next 24 hours
    assert rows["off"].marks == [] and rows["off"].bars == []
    bar = rows["broken"].bars[-1]
    assert line.left < bar.x < line.now_x and bar.width == pytest.approx(60 / (48 * 3600) * line.width, abs=1.01)


def test_runs_too_close_to_tell_apart_merge_into_one_bar_that_counts_them(make_task):
    task = make_task("often")
    for minute in range(30):
        run(task, "success", 60 - minute, seconds=1)
    row = timeline.build([task], timezone.now()).rows[0]
    assert sum(bar.runs for bar in row.bars) == 30 and len(row.bars) < 15


def test_a_task_firing_every_minute_is_a_band_not_1440_marks(make_task):
    task = make_task("busy", task_schedule="* * * * *")
    row = timeline.build([task], timezone.now()).rows[0]
    assert row.marks == [] and row.band[2] == timeline.MAX_MARKS + 1


def test_the_dashboard_page_shows_counts_bars_that_open_their_run_and_the_lists(as_viewer, fleet):
    response = as_viewer.get("/dashboard")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="count-failing">2<' in html and 'id="rate-24h">50.0%<' in html
    failed = TaskExecution.objects.filter(task=fleet["broken"], status="failed").latest("start_time")
    assert f'href="/tasks/broken/executions/{failed.pk}" class="tl-run" data-status="failed"' in html
    assert 'id="timeline-now"' in html and 'class="tl-slot"' in html
    assert 'data-task-id="broken"' in html.split('id="failing"')[1].split("</ul>")[0]
    assert "3 failures in a row" in html


def test_the_dashboard_speaks_chinese(as_viewer, fleet):
    html = as_viewer.get("/dashboard", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "仪表盘" in html and "连续失败 3 次" in html


def test_the_dashboard_filters_by_tag_and_names_a_bad_one(as_viewer, fleet):
    html = as_viewer.get("/dashboard?tag=billing").content.decode()
    assert 'data-task-id="broken"' in html and 'data-task-id="ok"' not in html
    bad = as_viewer.get("/dashboard?tag=bad%20tag")
    assert bad.status_code == 200 and "tag &#x27;bad tag&#x27; is not a tag" in bad.content.decode()


def test_the_dashboard_lists_open_incidents(as_viewer, fleet):
    Incident.objects.create(kind="missed", key="ok", task=fleet["ok"], opened_at=timezone.now(),
                            detail="missed 1 scheduled run")
    html = as_viewer.get("/dashboard").content.decode()
    assert "missed 1 scheduled run" in html.split('id="incidents"')[1]


def test_logging_in_lands_on_the_dashboard(client, viewer):
    response = client.post("/login/", {"username": "vera", "password": "pw-vera"})
    assert response.status_code == 302 and response.url == "/dashboard"


def test_the_api_gives_the_same_figures(client_as, fleet):
    body = client_as("viewer").get("/api/stats").json()
    assert body["tasks"] == {"enabled": 3, "disabled": 1, "running": 0, "failing": 2}
    assert body["runs_24h"] == {"success": 6, "failed": 6}
    assert body["success_rate_24h"] == pytest.approx(0.5)
    assert body["failing"][0]["task_id"] in ("broken", "flaky")
    broken = next(f for f in body["failing"] if f["task_id"] == "broken")
    assert broken["in_a_row"] == 3 and broken["since"]
    assert [s["task_id"] for s in body["slowest"]] == ["broken", "flaky", "ok"]
    assert body["slowest"][2]["trend"] == pytest.approx(1.0)
    assert body["flakiest"][0] == {"task_id": "flaky", "task_name": "测试任务", "changes": 4, "runs": 5}
    tagged = client_as("viewer").get("/api/stats?tag=billing").json()
    assert tagged["tag"] == "billing" and tagged["tasks"]["enabled"] == 1
    assert client_as("viewer").get("/api/stats?tag=a%20b").status_code == 400


def test_hours_read_once_and_kept_add_up_to_the_same_figures_as_one_read(make_task, time_machine):
    """The window is read hour by hour and whole hours are kept: a change of result across an hour's edge still
    counts, a run added to the current hour shows at once, and an hour with a run still going is not kept."""
    from django.core.cache import cache

    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    time_machine.move_to(now, tick=False)
    task = make_task("edgy")
    for minutes, status in ((200, "success"), (150, "failed"), (100, "success"), (50, "failed")):
        run(task, status, minutes)
    going = run(task, "running", 250)
    first = figures.fleet_figures(timezone.now())
    assert first.flakiest[0].changes == 3 and first.runs_24h == {"success": 2, "failed": 2, "running": 1}
    run(task, "success", 10)
    again = figures.fleet_figures(timezone.now())
    assert again.flakiest[0].changes == 4 and again.runs_24h["success"] == 3
    going.status, going.duration = "success", 3000.0
    going.save()
    cache_keys = cache._cache.keys() if hasattr(cache, "_cache") else []
    assert cache_keys  # whole hours were kept
    assert figures.fleet_figures(timezone.now()).runs_24h == {"success": 4, "failed": 2}


def test_the_timeline_leaves_out_the_slots_on_days_the_tasks_calendar_excludes(make_task, time_machine):
    """National Day 2025: October 1 to 8 are not working days in cn-workdays, October 9 is."""
    from datetime import datetime, timezone as dt_timezone

    time_machine.move_to(datetime(2025, 10, 8, 12, 0, tzinfo=dt_timezone.utc), tick=False)
    on_calendar = make_task("workdays-only", task_schedule="0 * * * *", task_timezone="Asia/Shanghai",
                            task_calendar="cn-workdays")
    every_day = make_task("every-day", task_schedule="0 * * * *", task_timezone="Asia/Shanghai")
    rows = {r.task_id: r for r in timeline.build([on_calendar, every_day], timezone.now()).rows}
    assert len(rows["every-day"].marks) == 24
    # After 20:00 on October 8 (Shanghai) up to 20:00 on October 9: only October 9's hours, 0:00 to 20:00.
    assert len(rows["workdays-only"].marks) == 21


def test_the_dashboard_flags_a_calendar_in_use_without_next_years_data_from_the_autumn_before(
        as_viewer, make_task, time_machine):
    from datetime import datetime, timezone as tz

    from tasks_app import workdays

    make_task("payroll", task_calendar="cn-workdays")
    time_machine.move_to(datetime(workdays.CN_LAST_YEAR, 6, 1, tzinfo=tz.utc), tick=False)
    assert 'id="calendar-warnings"' not in as_viewer.get("/dashboard").content.decode()
    time_machine.move_to(datetime(workdays.CN_LAST_YEAR, 10, 1, tzinfo=tz.utc), tick=False)
    html = as_viewer.get("/dashboard").content.decode()
    assert f"Calendar cn-workdays has no data for {workdays.CN_LAST_YEAR + 1}" in html
    zh = as_viewer.get("/dashboard", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f"日历 cn-workdays 没有 {workdays.CN_LAST_YEAR + 1} 年的数据" in zh


def test_markup_in_a_task_name_is_text_in_the_dashboards_hand_written_svg(as_viewer, make_task):
    # The timeline's SVG is written as strings (marked safe), not by the template engine: every task value is
    # escaped there by hand.
    task = make_task("named", task_schedule="0 * * * *", task_name='</title><script>alert(1)</script>"><b x="')
    run(task, "failed", 30)
    html = as_viewer.get("/dashboard").content.decode()
    assert 'data-task-id="named"' in html
    assert "<script>alert(1)" not in html and '"><b x="' not in html
    assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
