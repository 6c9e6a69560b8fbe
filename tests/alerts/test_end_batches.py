"""The alerts of the ends of one round, worked out together (outcomes.runs_ended, one query for the batch): they
decide exactly as the ends counted one by one (run_ended) would, close the runs' open incidents, and a success
that nothing can come of (a task whose alerts reach no channel, a clean streak) writes nothing at all."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks_app.alerts import outcomes
from tasks_app.models import Incident, IncidentKind, Notice, Task, TaskAlertState, TaskExecution

from .helpers import json_channel

pytestmark = pytest.mark.django_db

STATUS = {"S": "success", "F": "failed", "T": "timeout", "X": "stopped"}


def task(task_id, **fields):
    return Task.objects.create(task_id=task_id, task_name=task_id, task_exec="ok.py", **fields)


def ended(owner, status):
    """A finished run of `owner`, as the engine hands it to the alerts (its task loaded)."""
    now = timezone.now()
    run = TaskExecution.objects.create(task=owner, status=status, trigger="manual", end_time=now, duration=1.0,
                                       start_time=now - timedelta(seconds=1), return_code=int(status != "success"))
    run.task = owner
    return run


def streak(owner):
    state = TaskAlertState.objects.filter(task=owner).first()
    if state is None:
        return None
    return (state.last_outcome, state.failures_in_row, state.alerted, state.held, state.last_execution_id is not None)


def events(owner):
    return [n.event for n in Notice.objects.filter(task=owner).order_by("id")]


@pytest.mark.parametrize("outcomes_in_order, batches", [
    ("SSFFSS", [2, 2, 2]),
    ("SSFFSS", [6]),
    ("FSFS", [1, 3]),
    ("SFFFTSS", [3, 4]),
    ("SXSFXS", [6]),
])
def test_a_batch_decides_as_the_same_ends_counted_one_by_one(outcomes_in_order, batches):
    json_channel("ops")
    rules = {"failures_in_row": 2}
    alone, together = task("alone", task_channels=["ops"], task_alerts=rules), \
        task("together", task_channels=["ops"], task_alerts=rules)

    for letter in outcomes_in_order:
        outcomes.run_ended(ended(alone, STATUS[letter]))
    runs = [ended(together, STATUS[letter]) for letter in outcomes_in_order]
    start = 0
    for size in batches:
        outcomes.runs_ended(runs[start:start + size])
        start += size

    assert streak(together) == streak(alone)
    assert events(together) == events(alone)
    counted = [r for r in runs if r.status != "stopped"]
    assert TaskAlertState.objects.get(task=together).last_execution_id == counted[-1].pk


def test_a_steady_success_of_a_task_with_a_channel_counts_its_run_and_alerts_nobody():
    json_channel("ops")
    owner = task("steady", task_channels=["ops"])
    outcomes.runs_ended([ended(owner, "success")])
    second = ended(owner, "success")

    assert outcomes.runs_ended([second]) is False

    state = TaskAlertState.objects.get(task=owner)
    assert (state.last_outcome, state.failures_in_row, state.last_execution_id) == ("success", 0, second.pk)
    assert events(owner) == []


def test_a_success_whose_alerts_reach_no_channel_writes_nothing_and_a_failure_is_still_counted():
    json_channel("elsewhere")  # a channel exists, but neither the task's nor a default one
    owner = task("unheard", task_channels=["gone"])

    assert outcomes.runs_ended([ended(owner, "success"), ended(owner, "success")]) is False
    assert streak(owner) is None

    failed = ended(owner, "failed")
    outcomes.runs_ended([failed])
    assert streak(owner) == ("failure", 1, True, 0, True)
    assert events(owner) == []  # decided, but no channel to send it to

    back = ended(owner, "success")
    outcomes.runs_ended([back])  # a recovery is counted in full: the streak is clean again
    assert streak(owner) == ("success", 0, False, 0, True)
    assert TaskAlertState.objects.get(task=owner).last_execution_id == back.pk


def test_a_default_channel_reaches_a_task_that_names_none():
    json_channel("ops", is_default=True)
    owner = task("by-default")
    run = ended(owner, "success")

    outcomes.runs_ended([run])

    assert TaskAlertState.objects.get(task=owner).last_execution_id == run.pk


def test_the_batch_closes_its_runs_overrun_incidents_and_the_missed_incidents_of_tasks_that_ran():
    ran, stopped, other = task("ran"), task("stopped"), task("other")
    runs = [ended(ran, "success"), ended(stopped, "stopped")]
    now = timezone.now()
    for run in runs:
        Incident.objects.create(kind=IncidentKind.OVERRUN, key=str(run.pk), task=run.task, execution=run, opened_at=now)
        Incident.objects.create(kind=IncidentKind.MISSED, key=run.task.task_id, task=run.task, opened_at=now)
    Incident.objects.create(kind=IncidentKind.MISSED, key="other", task=other, opened_at=now)

    outcomes.runs_ended(runs)

    still_open = set(Incident.objects.filter(resolved_at__isnull=True).values_list("kind", "key"))
    # A run a person stopped says nothing about its task's health: its task's missed incident stays open.
    assert still_open == {("missed", "stopped"), ("missed", "other")}


@pytest.mark.django_db(transaction=True)  # read in the notices' pool, through its own connection
def test_the_overrun_thresholds_of_several_tasks_are_read_together_as_one_by_one():
    from tasks_app.alerts import sender
    from tasks_app.alerts.overrun import threshold_for, thresholds_for

    steady, expected, young = task("steady-one"), task("expected", task_expected_duration=90), task("young")
    for seconds in (10, 11, 12, 13, 100, 14):
        TaskExecution.objects.create(task=steady, status="success", trigger="manual", duration=seconds)
    TaskExecution.objects.create(task=steady, status="failed", trigger="manual", duration=1000)
    for seconds in (1, 2):
        TaskExecution.objects.create(task=young, status="success", trigger="manual", duration=seconds)

    together = sender.pool().submit(thresholds_for, {steady.pk: None, expected.pk: 90, young.pk: None}).result(10)

    assert together == {steady.pk: 37.5, expected.pk: 90.0, young.pk: None}  # 3 x the median of its 6 successes
    one_by_one = {pk: sender.pool().submit(threshold_for, pk, limit).result(10)
                  for pk, limit in ((steady.pk, None), (expected.pk, 90), (young.pk, None))}
    assert together == one_by_one
