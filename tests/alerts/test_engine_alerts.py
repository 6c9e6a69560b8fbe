"""Alert rules with real runs of the engine (in-process, the real LocalExecutor and real task processes): from
the Nth failure in a row, on recovery, a quiet period that collapses repeats, a failed send retried and kept on
the run, and an overrun alerted while the run still runs. The channel is a JSON webhook answered by the stand-in
server (tests/alerts/standin.py)."""
import time

import pytest

from tasks_app.models import IncidentKind, Notice, Task, TaskExecution
from tasks_app.services.executions import run_now, stop_task
from tests.engine.conftest import wait_for

from .helpers import json_channel, notices, run_with_exit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alerting(stand_in, start_engine, make_task, settings):
    settings.NOTIFY_RETRY_DELAYS = [0.2, 0.2]
    json_channel("ops")
    start_engine()
    return stand_in


def messages(stand_in):
    return [got.json()["message"] for got in stand_in.received]


def test_an_alert_comes_from_the_third_failure_in_a_row_and_a_recovery_follows(alerting, make_task):
    task = make_task("nightly", task_exec="sleep.py", task_channels=["ops"],
                     task_alerts={"failures_in_row": 3})

    for _ in range(2):
        run_with_exit(task, 1)
    assert notices(task) == [] and alerting.received == []

    third = run_with_exit(task, 1)
    wait_for(lambda: len(alerting.received) == 1, 10, what="the failure alert")
    # The stand-in has the message before the sender has written down that it was sent.
    (sent,) = wait_for(lambda: [n for n in notices(task) if n.status == "sent"], 10, what="the notice marked sent")
    assert (sent.event, sent.status, sent.execution_id, sent.attempts) == ("failure", "sent", third.pk, 1)
    body = messages(alerting)[0]
    assert "Task: nightly" in body and "Status: Failed" in body and "Return code: 1" in body
    assert "Error: exit code 1" in body and "Failed 3 times in a row since" in body
    assert f"/tasks/nightly/executions/{third.pk}" in body
    assert alerting.received[0].json()["title"] == "[scheduler] nightly: Failed"

    run_with_exit(task, 1)
    wait_for(lambda: len(alerting.received) == 2, 10, what="the fourth failure's alert")
    assert "Failed 4 times in a row" in messages(alerting)[1]

    run_with_exit(task, 0)
    wait_for(lambda: len(alerting.received) == 3, 10, what="the recovery alert")
    assert notices(task)[-1].event == "recovery"
    assert "Recovered after 4 failures since" in messages(alerting)[2]
    assert alerting.received[2].json()["title"] == "[scheduler] nightly: recovered"

    run_with_exit(task, 0)  # a second success says nothing (on_success is off)
    assert len(notices(task)) == 3


def test_a_quiet_period_holds_repeats_back_and_the_next_alert_counts_them(alerting, make_task):
    task = make_task("flaky", task_exec="sleep.py", task_channels=["ops"], task_alerts={"quiet_period": 3600})

    for _ in range(3):
        run_with_exit(task, 2)
    assert [n.event for n in notices(task)] == ["failure"]

    Task.objects.filter(pk=task.pk).update(task_alerts={"quiet_period": 1})
    time.sleep(1.1)
    run_with_exit(task, 2)
    wait_for(lambda: len(alerting.received) == 2, 10, what="the alert after the quiet period")
    said = messages(alerting)[1]
    assert "Failed 4 times in a row since" in said and "2 more failure alerts were held back" in said


def test_a_failed_send_is_retried_with_back_off_and_each_attempt_is_kept_on_the_run(alerting, make_task):
    task = make_task("retried", task_exec="sleep.py", task_channels=["ops"])
    alerting.answers = [503, 503]

    failed = run_with_exit(task, 1)

    notice = wait_for(lambda: Notice.objects.filter(execution=failed, status="sent").first(), 10,
                      what="the third attempt")
    assert notice.attempts == 3 and len(alerting.received) == 3
    assert failed.notices.count() == 1
    execution = TaskExecution.objects.get(pk=failed.pk)
    assert execution.status == "failed" and execution.return_code == 1  # the run's own record is untouched

    alerting.status = 400  # a message the service refuses: not tried again
    refused = run_with_exit(task, 1)
    notice = wait_for(lambda: Notice.objects.filter(execution=refused, status="failed").first(), 10,
                      what="the refused notice")
    assert notice.attempts == 1 and "HTTP 400" in notice.last_error


def test_an_overrun_is_alerted_once_while_the_run_still_runs(alerting, make_task):
    task = make_task("long", task_exec="sleep.py", task_channels=["ops"], task_expected_duration=1,
                     task_env={"SLEEP": "60"})
    queued = run_now(task, actor="alice", via="api")

    notice = wait_for(lambda: Notice.objects.filter(task=task, event="overrun", status="sent").first(), 15,
                      what="the overrun alert")
    assert notice.execution_id == queued.pk
    assert TaskExecution.objects.get(pk=queued.pk).status == "running"
    assert task.incidents.filter(kind=IncidentKind.OVERRUN, resolved_at__isnull=True).count() == 1
    assert "still running after" in alerting.received[0].json()["title"]
    time.sleep(1.5)  # more ticks: still one alert
    assert Notice.objects.filter(task=task, event="overrun").count() == 1

    stop_task(task, actor="alice", via="api")
    wait_for(lambda: not task.incidents.filter(resolved_at__isnull=True).exists(), 15,
             what="the incident to close when the run ends")
