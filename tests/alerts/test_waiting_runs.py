"""A scheduled run claimed but still waiting for a worker when its slot is past its grace (every worker busy) is a
missed run, alerted once; a run that waited has its overrun clock start when it really starts."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks_app.alerts.overrun import OverrunWatch
from tasks_app.models import Incident, IncidentKind, Notice, TaskExecution
from tests.engine.conftest import wait_for

from .helpers import json_channel

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_scheduled_run_waiting_for_a_worker_past_its_grace_is_a_missed_run(make_task, stand_in):
    json_channel("ops", is_default=True)
    task = make_task("queued-up", task_schedule="* * * * *", task_misfire_grace=30)
    now = timezone.now()
    slot = now - timedelta(seconds=90)
    execution = TaskExecution.objects.create(task=task, status="running", trigger="schedule", scheduled_time=slot,
                                             start_time=slot)
    execution = TaskExecution.objects.select_related("task").get(pk=execution.pk)
    watch = OverrunWatch()

    watch.check({execution.pk: execution}, now - timedelta(seconds=40), started=lambda pk: False)  # 50 s: not yet
    watch.check({execution.pk: execution}, now, started=lambda pk: False)
    watch.check({execution.pk: execution}, now + timedelta(seconds=1), started=lambda pk: False)

    incident = wait_for(lambda: Incident.objects.filter(kind=IncidentKind.MISSED).first(), 10, what="the incident")
    assert (incident.task_id, incident.slot) == (task.pk, slot) and "waiting for a free worker" in incident.detail
    wait_for(lambda: Notice.objects.filter(event="missed", status="sent").exists(), 10, what="the alert")
    assert Notice.objects.count() == 1 and len(stand_in.received) == 1
