"""Alerts for what did not happen, from the web side: with the scheduler stopped (a real runscheduler, started
and stopped), the web processes' watchdog alerts once that the scheduler is down and once per task whose slot
passed, however many web processes look at the same moment."""
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks_app.alerts import watchdog
from tasks_app.models import Incident, IncidentKind, Notice, SchedulerLease, TaskStatus

from .helpers import json_channel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stopped_scheduler(runscheduler, make_task, engine_scripts, stand_in):
    """A task due every five minutes, seen by a real scheduler that has stopped since."""
    json_channel("ops", is_default=True)
    task = make_task("every-five", task_exec="ok.py", task_schedule="*/5 * * * *")
    runscheduler().stop()
    assert SchedulerLease.objects.current().released_at is not None  # it said it stopped
    return task


def test_a_missed_slot_with_the_scheduler_stopped_is_alerted_once_from_the_web_side(stopped_scheduler, stand_in):
    task = stopped_scheduler
    slot = TaskStatus.objects.get(task=task).next_run_time
    later = slot + timedelta(minutes=3)  # the slot has passed, and the scheduler is still not there

    # Two web processes look at the same moment.
    rounds = [threading.Thread(target=watchdog.check, args=(later,)) for _ in range(2)]
    for thread in rounds:
        thread.start()
    for thread in rounds:
        thread.join(30)
    watchdog.check(later)  # and once more, later

    missed = Incident.objects.get(kind=IncidentKind.MISSED)
    assert (missed.task_id, missed.slot, missed.resolved_at) == (task.pk, slot, None)
    assert Incident.objects.filter(kind=IncidentKind.SCHEDULER_DOWN, resolved_at__isnull=True).count() == 1
    assert sorted(Notice.objects.values_list("event", "status")) == [("missed", "sent"), ("scheduler_down", "sent")]
    titles = sorted(got.json()["title"] for got in stand_in.received)
    assert titles == ["[scheduler] every-five: missed run", "[scheduler] the scheduler is not running"]
    (missed_message,) = [got.json()["message"] for got in stand_in.received if "missed" in got.json()["title"]]
    local_slot = timezone.localtime(slot).strftime("%Y-%m-%d %H:%M:%S")
    assert f"The run due at {local_slot}" in missed_message


def test_the_scheduler_seen_again_closes_its_incident(stopped_scheduler, runscheduler, stand_in):
    watchdog.check(timezone.now() + timedelta(minutes=10))
    assert Incident.objects.filter(kind=IncidentKind.SCHEDULER_DOWN, resolved_at__isnull=True).exists()

    runscheduler()
    watchdog.check_scheduler(timezone.now())

    assert not Incident.objects.filter(kind=IncidentKind.SCHEDULER_DOWN, resolved_at__isnull=True).exists()
