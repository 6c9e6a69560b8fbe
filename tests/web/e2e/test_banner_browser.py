"""The red banner of a dead scheduler, in a real browser: absent while a real scheduler leads, shown (in English
and Chinese) once none has been alive for SCHEDULER_BANNER_AFTER seconds after its kill -9, gone when the next
scheduler runs."""
import os
import signal

import pytest
from playwright.sync_api import expect

from tests.engine.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_banner_appears_when_the_scheduler_dies_and_goes_when_one_runs_again(logged_in, runscheduler,
                                                                                   settings):
    settings.SCHEDULER_BANNER_AFTER = 1  # 30 s in production; the live server runs in this process
    scheduler = runscheduler()
    page = logged_in("viewer")
    banner = page.locator("#scheduler-down")
    expect(banner).to_have_count(0)

    os.kill(scheduler.pid, signal.SIGKILL)
    scheduler.proc.wait(5)

    def shown():  # the lease runs out three heartbeats (6 s) after the last renewal, then one second more
        page.reload()
        return banner.count() == 1

    wait_for(shown, 20, interval=0.5, what="the banner")
    expect(banner).to_contain_text("The scheduler is not running since")
    page.goto("/workers")  # every page
    expect(banner).to_be_visible()
    page.select_option("#language-select", "zh-hans")
    expect(banner).to_contain_text("调度器自")

    runscheduler()
    page.reload()
    expect(banner).to_have_count(0)
