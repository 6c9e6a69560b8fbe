"""Business calendars, backfill and the dependency graph in a real browser, in English and in Chinese: an operator
makes a custom calendar and puts a task on it; runs a task for a date range through the real scheduler and
cancels another; the graph shows who waits for whom and opens a task on a click."""
import re
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from tasks_app.models import Backfill, Calendar, ExecutionStatus, TaskExecution, TaskStatus
from tests.engine.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_operator_makes_a_custom_calendar_and_a_task_on_it_skips_its_days(logged_in, make_task):
    make_task("report", task_schedule="0 9 * * *", task_timezone="Asia/Shanghai")
    page = logged_in("operator")
    page.click("nav >> text=Calendars")
    expect(page.locator("#no-calendars")).to_be_visible()
    page.click("#new-calendar")
    page.fill("#id_name", "ops")
    page.select_option("#id_base", "cn-workdays")
    page.fill("#id_added_dates", "2025-10-12")
    page.fill("#id_ranges", "2025-10-20..2025-10-24 release freeze\nnot a range")
    page.click("#save-calendar")
    expect(page.locator("#calendar-form")).to_contain_text("not a range")
    page.fill("#id_ranges", "2025-10-20..2025-10-24 release freeze")
    page.click("#save-calendar")

    expect(page).to_have_url(re.compile(r"/calendars/ops$"))
    page.goto("/calendars/ops?month=2025-10")
    expect(page.locator("#month")).to_have_text("2025-10")
    expect(page.locator("td[data-date='2025-10-01']")).to_have_attribute("data-runs", "no")
    expect(page.locator("td[data-date='2025-10-11']")).to_have_attribute("data-runs", "yes")  # 调休 Saturday
    expect(page.locator("td[data-date='2025-10-12']")).to_have_attribute("data-runs", "yes")  # added
    expect(page.locator("#excluded-days")).to_contain_text("not a working day in ops (range 2025-10-20..2025-10-24: "
                                                         "release freeze)")
    page.click("#next-month")
    expect(page.locator("#month")).to_have_text("2025-11")

    page.goto("/tasks/report/edit")
    page.select_option("#id_task_calendar", "ops")
    expect(page.locator(".cron-calendar")).to_contain_text("skipping the days ops excludes")
    page.click("button[type=submit] >> text=Save")
    expect(page.locator("#task-calendar")).to_have_text("ops")
    expect(page.locator("#next-runs-calendar")).to_contain_text("skipping the days ops excludes")
    assert Calendar.objects.get(name="ops").ranges[0]["label"] == "release freeze"


def test_a_chinese_viewer_reads_the_calendars_of_china_in_chinese(logged_in):
    page = logged_in("viewer", locale="zh-CN")
    page.click("nav >> text=日历")
    expect(page.locator("h1")).to_have_text("日历")
    expect(page.locator("#new-calendar")).to_have_count(0)
    page.click("#builtin-calendars >> text=cn-workdays")
    page.goto("/calendars/cn-workdays?month=2025-10")
    expect(page.locator("#month-grid thead")).to_contain_text("一")
    expect(page.locator("td[data-date='2025-10-08']")).to_have_attribute("data-runs", "no")
    expect(page.locator("h2 >> text=不运行的日子")).to_be_visible()


def test_an_operator_runs_a_task_for_three_days_through_the_real_scheduler(logged_in, make_task, runscheduler):
    make_task("daily", task_schedule="0 3 * * *", task_timezone="Asia/Shanghai")
    runscheduler()
    page = logged_in("operator")
    page.goto("/tasks/daily/executions")
    page.click("#backfill-panel summary")
    page.fill("#backfill-start", "2025-10-01")
    page.fill("#backfill-end", "2025-10-03")
    page.fill("#backfill-concurrency", "3")
    page.click("#start-backfill")
    expect(page.locator(".alert-success")).to_contain_text("3 run(s) queued")
    backfill = Backfill.objects.get()
    wait_for(lambda: TaskExecution.objects.filter(backfill=backfill, status=ExecutionStatus.SUCCESS).count() == 3,
             60, what="the three runs of the backfill to succeed")
    page.reload()
    expect(page.locator(f"#backfill-{backfill.pk}")).to_have_attribute("data-state", "done")
    expect(page.locator(".backfill-link")).to_have_count(3)
    expect(page.locator(f"#backfill-{backfill.pk} .backfill-counts")).to_contain_text("3")


def test_a_chinese_operator_starts_a_backfill_and_cancels_it_as_a_whole(logged_in, make_task):
    make_task("daily", task_schedule="0 3 * * *", task_timezone="Asia/Shanghai")
    page = logged_in("operator", locale="zh-CN")
    page.goto("/tasks/daily/executions")
    page.click("#backfill-panel summary >> text=按日期范围运行（补数）")
    page.fill("#backfill-start", "2025-10-01")
    page.fill("#backfill-end", "2025-10-05")
    page.select_option("#backfill-order", "newest_first")
    page.click("#start-backfill >> text=开始补数")
    expect(page.locator(".alert-success")).to_contain_text("已排队 5 次运行")
    backfill = Backfill.objects.get()
    row = page.locator(f"#backfill-{backfill.pk}")
    expect(row).to_contain_text("从晚到早")
    row.locator(".cancel-backfill").click()
    expect(page.locator(".alert-success")).to_contain_text("5 次运行不再开始")
    expect(page.locator(f"#backfill-{backfill.pk}")).to_have_attribute("data-state", "cancelled")
    assert set(TaskExecution.objects.values_list("status", flat=True)) == {ExecutionStatus.STOPPED}


def graph_tasks(make_task):
    make_task("extract", task_schedule="0 2 * * *", task_timezone="Asia/Shanghai")
    make_task("transform", task_schedule="", task_dependencies=["extract"], task_timezone="Asia/Shanghai")
    make_task("report", task_schedule="", task_dependencies=["transform"], task_timezone="Asia/Shanghai")
    TaskStatus.objects.filter(task__task_id="extract").update(
        last_status="failed", last_end_time=datetime(2025, 10, 9, 18, 13, tzinfo=timezone.utc))


def test_the_graph_shows_who_waits_and_a_click_opens_the_task(logged_in, make_task):
    graph_tasks(make_task)
    page = logged_in("viewer")
    page.click("nav >> text=Graph")
    expect(page.locator(".graph-node")).to_have_count(3)
    expect(page.locator(".graph-node[data-task='extract']")).to_have_attribute("data-status", "failed")
    expect(page.locator(".graph-edge.waiting[data-from='extract'][data-to='transform']")).to_have_count(1)
    expect(page.locator("#graph-waiting")).to_contain_text("report waits for transform: it has not run yet")
    expect(page.locator("#graph-waiting")).to_contain_text("transform waits for extract: failed at 10-10 02:13")
    extract = page.locator(".graph-node[data-task='extract'] rect").bounding_box()
    transform = page.locator(".graph-node[data-task='transform'] rect").bounding_box()
    assert extract["x"] < transform["x"]  # a dependency is drawn left of the task that runs after it
    page.locator(".graph-node[data-task='transform']").click()
    expect(page).to_have_url(re.compile(r"/tasks/transform/view$"))


def test_the_graph_speaks_chinese(logged_in, make_task):
    graph_tasks(make_task)
    page = logged_in("viewer", locale="zh-CN")
    page.click("nav >> text=依赖图")
    expect(page.locator("h1")).to_have_text("依赖图")
    expect(page.locator("#graph-waiting")).to_contain_text("等待 extract：10-10 02:13 失败")
