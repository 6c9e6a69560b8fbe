"""The operators' view in a real browser, in English and in Chinese: the dashboard's timeline (a bar for each run
that exists, clicking one opens the run), bulk actions on the task list (check boxes, select all matching, a result
per task, refusals shown), and the pause switch with its banner and resume."""
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tasks_app.models import Pause, Task, TaskExecution, TaskStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def past_run(task, status, minutes_ago, seconds=30.0):
    start = timezone.now() - timedelta(minutes=minutes_ago)
    run = TaskExecution.objects.create(task=task, status=status, trigger="schedule", start_time=start,
                                       end_time=start + timedelta(seconds=seconds), duration=seconds)
    TaskStatus.objects.filter(task=task).update(last_status=status, last_execution=run, last_start_time=start,
                                                last_end_time=run.end_time)
    return run


def test_the_dashboard_draws_a_bar_for_each_run_and_clicking_one_opens_it(logged_in, make_task):
    nightly = make_task("nightly-report", task_schedule="0 * * * *", task_tags=["reports"])
    backup = make_task("db-backup", task_schedule="30 2 * * *")
    ok = past_run(nightly, "success", 300)
    failed = past_run(nightly, "failed", 120, seconds=600)
    past_run(backup, "success", 60)
    page = logged_in("viewer")
    page.click("nav >> text=Dashboard")

    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("#count-failing")).to_have_text("1")
    row = page.locator('#timeline g.tl-row[data-task-id="nightly-report"]')
    expect(row.locator("a.tl-run")).to_have_count(2)
    expect(row.locator(f'a.tl-run[data-execution-id="{ok.pk}"]')).to_have_attribute("data-status", "success")
    expect(row.locator(f'a.tl-run[data-execution-id="{failed.pk}"] title')).to_contain_text(
        f"nightly-report #{failed.pk} · Failed")
    expect(row.locator("rect.tl-slot")).to_have_count(24)
    expect(page.locator("#timeline-now")).to_have_count(1)
    expect(page.locator("#failing")).to_contain_text("1 failure in a row")

    row.locator(f'a.tl-run[data-execution-id="{failed.pk}"]').click()
    expect(page).to_have_url(re.compile(rf"/tasks/nightly-report/executions/{failed.pk}$"))

    page.goto("/dashboard")
    page.click('#dashboard-tags >> a[data-tag="reports"]')
    expect(page.locator("#timeline g.tl-row")).to_have_count(1)


def test_a_chinese_operator_lands_on_the_dashboard_and_opens_a_run_from_the_timeline(logged_in, make_task):
    task = make_task("etl", task_schedule="15 * * * *")
    run = past_run(task, "success", 90)
    page = logged_in("operator", locale="zh-CN")
    page.click("nav >> text=仪表盘")
    expect(page.locator("h1")).to_have_text("仪表盘")
    expect(page.locator("#dashboard-counts")).to_contain_text("成功率（24 小时）")
    expect(page.locator("#rate-24h")).to_have_text("100.0%")
    bar = page.locator(f'#timeline a.tl-run[data-execution-id="{run.pk}"]')
    expect(bar.locator("title")).to_contain_text("成功")
    bar.click()
    expect(page).to_have_url(re.compile(rf"/tasks/etl/executions/{run.pk}$"))


def test_an_operator_disables_the_checked_tasks_and_tags_all_matching_ones(logged_in, make_task):
    for task_id in ("alpha", "beta", "gamma"):
        make_task(task_id)
    make_task("other")
    page = logged_in("operator")
    expect(page.locator("#bulk-apply")).to_be_disabled()

    page.check('input.bulk-select[value="alpha"]')
    page.check('input.bulk-select[value="gamma"]')
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    page.select_option("#bulk-action", "disable")
    page.click("#bulk-apply")
    expect(page.locator("h1")).to_contain_text("Bulk action: Disable")
    expect(page.locator("#bulk-alpha")).to_have_attribute("data-result", "done")
    expect(page.locator("#bulk-gamma")).to_have_attribute("data-result", "done")
    assert sorted(Task.objects.filter(task_enabled=False).values_list("task_id", flat=True)) == ["alpha", "gamma"]

    page.click("#bulk-back")
    page.fill("#q", "a")  # alpha, beta, gamma: every id with an "a"
    page.click("#task-filters button[type=submit]")
    page.check("#bulk-all-matching")
    expect(page.locator("#bulk-count")).to_have_text("all 3 matching tasks")
    page.select_option("#bulk-action", "add_tag")
    expect(page.locator("#bulk-tag")).to_be_visible()
    page.fill("#bulk-tag", "Greek")
    page.click("#bulk-apply")
    expect(page.locator("#bulk-counts")).to_contain_text("done: 3")
    assert sorted(Task.objects.filter(task_tags__icontains='"greek"').values_list("task_id", flat=True)) == [
        "alpha", "beta", "gamma"]
    page.click("#bulk-back")
    expect(page.locator('#tag-cloud a[data-tag="greek"]')).to_contain_text("3")
    expect(page.locator('#bulk-action option[value="delete"]')).to_have_count(0)  # admins only


def test_a_chinese_admin_bulk_deletes_and_sees_the_task_others_depend_on_refused(logged_in, make_task):
    make_task("base")
    make_task("child", task_dependencies=["base"])
    make_task("loner")
    page = logged_in("admin", locale="zh-CN")
    page.check('input.bulk-select[value="base"]')
    page.check('input.bulk-select[value="loner"]')
    expect(page.locator("#bulk-count")).to_have_text("已选 2 个")
    page.select_option("#bulk-action", "delete")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#bulk-apply")
    expect(page.locator("h1")).to_contain_text("批量操作")
    expect(page.locator("#bulk-loner")).to_have_attribute("data-result", "done")
    refused = page.locator("#bulk-base")
    expect(refused).to_have_attribute("data-result", "refused")
    expect(refused).to_contain_text("被拒绝")
    expect(refused).to_contain_text("child")
    assert sorted(Task.objects.values_list("task_id", flat=True)) == ["base", "child"]


def test_an_operator_pauses_a_tag_sees_the_banner_everywhere_and_resumes(logged_in, make_task):
    make_task("billing-sync", task_tags=["billing"])
    page = logged_in("operator")
    expect(page.locator("#pause-banner")).to_have_count(0)
    page.click("nav >> text=Pause")
    expect(page.locator("#no-pause")).to_be_visible()
    page.fill("#id_tag", "billing")
    page.fill("#id_reason", "database maintenance")
    page.click("#pause-submit")
    expect(page.locator("#pause-banner")).to_contain_text("Tasks tagged billing are paused")
    expect(page.locator("#pause-banner")).to_contain_text("database maintenance")
    page.click("nav >> text=Tasks")
    expect(page.locator("#pause-banner")).to_be_visible()
    page.goto("/dashboard")
    expect(page.locator("#pause-banner")).to_be_visible()

    page.locator("#pause-banner .resume-button").click()
    expect(page.locator(".alert-success")).to_contain_text("Resumed")
    expect(page.locator("#pause-banner")).to_have_count(0)
    assert not Pause.objects.active().exists()


def test_a_chinese_operator_pauses_everything_until_a_time_and_resumes(logged_in):
    page = logged_in("operator", locale="zh-CN")
    page.click("nav >> text=暂停")
    until = timezone.localtime(timezone.now() + timedelta(hours=2))
    page.fill("#id_until", until.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_reason", "发布新版本")
    page.click("#pause-submit")
    banner = page.locator("#pause-banner")
    expect(banner).to_contain_text("所有任务已暂停")
    expect(banner).to_contain_text("发布新版本")
    expect(banner).to_contain_text("至 ")
    pause = Pause.objects.active().get()
    assert pause.tag == "" and pause.until is not None
    page.locator("#pause-banner .resume-button").click()
    expect(page.locator(".alert-success")).to_contain_text("已恢复")
    expect(page.locator("#pause-banner")).to_have_count(0)
