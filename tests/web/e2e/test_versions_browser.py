"""A task's versions in a real browser: open them from the task page, compare two side by side, restore one, and
the real scheduler follows the restored schedule within 2 seconds."""
import re
import time

import pytest
from django_apscheduler.models import DjangoJob
from playwright.sync_api import expect

from tasks_app.services import tasks as services
from tests.engine.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def job_hour(task_id):
    job = DjangoJob.objects.filter(id=task_id).first()
    return job.next_run_time.hour if job and job.next_run_time else None


def test_an_operator_compares_two_versions_and_restores_the_first_and_the_scheduler_follows(
        logged_in, make_task, runscheduler):
    task = make_task("versioned", task_schedule="0 6 * * *", task_timezone="UTC")
    services.update_task(task, {"task_schedule": "30 7 * * *"}, actor="otto", via="api", partial=True)
    services.update_task(task, {"task_desc": "the third version"}, actor="otto", via="api", partial=True)
    runscheduler()
    wait_for(lambda: job_hour("versioned") == 7, 5, what="the scheduler to take the current schedule")

    page = logged_in("operator")
    page.goto("/tasks/versioned/view")
    page.click("#versions-tab")
    expect(page).to_have_url(re.compile(r"/tasks/versioned/versions$"))
    # By default the latest two, side by side: only the description differs.
    expect(page.locator("#version-list > tbody > tr")).to_have_count(3)
    expect(page.locator("#compare-table tr.differs")).to_have_count(1)
    expect(page.locator("#compare-table tr.differs")).to_have_attribute("data-field", "task_desc")

    page.select_option("#compare-a", "1")
    page.select_option("#compare-b", "3")
    page.click("#compare-submit")
    expect(page).to_have_url(re.compile(r"\?a=1&b=3"))
    schedule = page.locator("#compare-table tr[data-field=task_schedule]")
    expect(schedule).to_have_class(re.compile("differs"))
    expect(schedule.locator("td").nth(0)).to_have_text("0 6 * * *")
    expect(schedule.locator("td").nth(1)).to_have_text("30 7 * * *")
    expect(page.locator("#compare-table tr.differs")).to_have_count(2)

    page.locator("tr[data-version='1'] .restore-version").click()
    began = time.monotonic()
    expect(page.locator(".alert-success")).to_contain_text("Version 1 of versioned restored: it is now version 4.")
    wait_for(lambda: job_hour("versioned") == 6, 2, what="the scheduler to follow the restored schedule")
    assert time.monotonic() - began < 2.5
    expect(page.locator("#version-list > tbody > tr").first).to_have_attribute("data-version", "4")
    expect(page.locator("#version-list > tbody > tr").first).to_contain_text("version restored")
    # The restored version is the current one: nothing to restore on its row.
    expect(page.locator("tr[data-version='4'] .restore-version")).to_have_count(0)
