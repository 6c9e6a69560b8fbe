"""What /metrics holds besides the run counters: every series there (at zero) before anything ran, per-task labels
switched by METRICS_PER_TASK, the scheduler's leadership and heartbeat, workers, task states and incidents."""
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tasks_app.metrics import collector
from tasks_app.models import Incident, SchedulerLease, Task, TaskExecution, TaskStatus, Worker
from tasks_app.models.tally import DURATION_BUCKETS, LATENESS_BUCKETS

from .conftest import TOKEN, families, samples, scrape_http

FINISHED = ["success", "failed", "timeout", "stopped", "skipped", "lost"]


def scrape() -> dict:
    answer = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    return samples(answer.content.decode())


def make_task(task_id, **fields):
    task = Task.objects.create(task_id=task_id, task_name=task_id, task_exec="x.py", **fields)
    TaskStatus.objects.create(task=task)
    return task


@pytest.mark.django_db(transaction=True)
def test_before_anything_ran_every_series_is_there_at_zero(live_server):
    make_task("fresh")
    make_task("off", task_enabled=False)
    text = scrape_http(live_server).body.decode()
    found = samples(text)
    for task_id in ("fresh", "off"):
        for status in FINISHED:
            assert found[("scheduler_executions_total", (("status", status), ("task_id", task_id)))] == 0
        for bound in [*DURATION_BUCKETS, "+Inf"]:
            le = "+Inf" if bound == "+Inf" else str(float(bound))
            assert found[("scheduler_execution_duration_seconds_bucket", (("le", le), ("task_id", task_id)))] == 0
        assert found[("scheduler_execution_duration_seconds_count", (("task_id", task_id),))] == 0
    assert len([k for k in found if k[0] == "scheduler_fire_lateness_seconds_bucket"]) == len(LATENESS_BUCKETS) + 1
    assert found[("scheduler_fire_lateness_seconds_count", ())] == 0
    for gauge in ("scheduler_running_executions", "scheduler_queued_executions", "scheduler_workers_alive",
                  "scheduler_leaders"):
        assert found[(gauge, ())] == 0
    assert {k[1][0][1]: v for k, v in found.items() if k[0] == "scheduler_tasks"} == {
        "running": 0, "idle": 1, "disabled": 1}
    for kind in ("missed", "overrun", "scheduler_down"):
        assert found[("scheduler_incidents_total", (("kind", kind),))] == 0
        assert found[("scheduler_open_incidents", (("kind", kind),))] == 0
    names = families(text)
    assert {"scheduler_is_leader", "scheduler_last_heartbeat_timestamp_seconds"} <= set(names)
    assert names["scheduler_execution_duration_seconds"].type == "histogram"
    assert names["scheduler_executions"].type == "counter"


def test_per_task_labels_can_be_switched_off(db, settings):
    make_task("a")
    make_task("b")
    settings.METRICS_PER_TASK = "off"
    found = scrape()
    assert found[("scheduler_executions_total", (("status", "success"),))] == 0
    assert found[("scheduler_execution_duration_seconds_count", ())] == 0
    assert not [k for k in found if "task_id" in dict(k[1])]


def test_above_a_thousand_tasks_auto_leaves_the_task_label_out(db, settings, monkeypatch):
    settings.METRICS_PER_TASK = "auto"
    monkeypatch.setattr(collector, "PER_TASK_UP_TO", 2)  # 1,000 in production: the rule, not the number, is tested
    for name in ("a", "b"):
        make_task(name)
    assert any("task_id" in dict(k[1]) for k in scrape())
    make_task("c")
    assert not any("task_id" in dict(k[1]) for k in scrape())
    settings.METRICS_PER_TASK = "on"
    assert any(dict(k[1]).get("task_id") == "c" for k in scrape())


def test_without_per_task_labels_the_counters_add_up_every_task(db, settings):
    settings.METRICS_PER_TASK = "off"
    now = timezone.now()
    for task in (make_task("a"), make_task("b")):
        TaskExecution.objects.create(task=task, status="success", start_time=now, end_time=now, duration=1.5)
    found = scrape()
    assert found[("scheduler_executions_total", (("status", "success"),))] == 2
    assert found[("scheduler_execution_duration_seconds_sum", ())] == 3.0


def test_the_scheduler_leads_while_its_lease_is_renewed_and_not_once_it_expires_or_is_released(db):
    assert not [k for k in scrape() if k[0] == "scheduler_is_leader"]
    assert scrape()[("scheduler_leaders", ())] == 0
    now = timezone.now()
    SchedulerLease.objects.create(holder="host-a:123", host="host-a", pid=123, acquired_at=now - timedelta(hours=1),
                                  renewed_at=now, expires_at=now + timedelta(seconds=6))
    found = scrape()
    assert found[("scheduler_is_leader", (("scheduler", "host-a:123"),))] == 1
    assert found[("scheduler_leaders", ())] == 1
    assert found[("scheduler_last_heartbeat_timestamp_seconds", (("scheduler", "host-a:123"),))] == pytest.approx(
        now.timestamp(), abs=0.01)
    # Three heartbeats without a renewal: expired (by the database's clock), whoever still thinks it leads.
    SchedulerLease.objects.update(renewed_at=now - timedelta(seconds=10), expires_at=now - timedelta(seconds=4))
    found = scrape()
    assert found[("scheduler_is_leader", (("scheduler", "host-a:123"),))] == 0
    assert found[("scheduler_leaders", ())] == 0
    SchedulerLease.objects.update(renewed_at=now, expires_at=now + timedelta(seconds=6), released_at=now)
    assert scrape()[("scheduler_is_leader", (("scheduler", "host-a:123"),))] == 0


def test_workers_alive_and_runs_running_or_queued_are_counted_now(db):
    task = make_task("t")
    now = timezone.now()
    for name, beat, stopped in (("w1:1", now, None), ("w2:2", now - timedelta(minutes=5), None), ("w3:3", now, now)):
        Worker.objects.create(name=name, hostname=name, host="h", pid=1, queues=["default"], concurrency=1,
                              started_at=now, last_heartbeat=beat, stopped_at=stopped)
    TaskExecution.objects.create(task=task, status="running", start_time=now)
    TaskExecution.objects.create(task=task, status="queued")
    TaskExecution.objects.create(task=task, status="queued")
    TaskStatus.objects.filter(task=task).update(running=True)
    found = scrape()
    assert found[("scheduler_workers_alive", ())] == 1
    assert found[("scheduler_running_executions", ())] == 1 and found[("scheduler_queued_executions", ())] == 2
    assert found[("scheduler_tasks", (("state", "running"),))] == 1
    assert found[("scheduler_executions_total", (("status", "success"), ("task_id", "t")))] == 0


def test_incidents_are_counted_when_opened_and_the_count_stays_when_their_run_is_deleted(db):
    task = make_task("t")
    now = timezone.now()
    run = TaskExecution.objects.create(task=task, status="running", start_time=now)
    Incident.objects.create(kind="overrun", key=str(run.pk), task=task, execution=run, opened_at=now)
    Incident.objects.create(kind="missed", key="t", task=task, opened_at=now, resolved_at=now)
    found = scrape()
    assert found[("scheduler_incidents_total", (("kind", "overrun"),))] == 1
    assert found[("scheduler_incidents_total", (("kind", "missed"),))] == 1
    assert found[("scheduler_open_incidents", (("kind", "overrun"),))] == 1
    assert found[("scheduler_open_incidents", (("kind", "missed"),))] == 0
    run.delete()  # the retention takes the run, and its overrun incident with it
    found = scrape()
    assert found[("scheduler_incidents_total", (("kind", "overrun"),))] == 1
    assert found[("scheduler_open_incidents", (("kind", "overrun"),))] == 0


def test_a_deleted_task_leaves_no_series_behind_but_the_totals_of_all_tasks_keep_its_runs(db, settings):
    task = make_task("gone")
    now = timezone.now()
    TaskExecution.objects.create(task=task, status="success", trigger="schedule", scheduled_time=now,
                                 start_time=now + timedelta(seconds=2), end_time=now, duration=1.0, return_code=0)
    found = scrape()
    assert found[("scheduler_executions_total", (("status", "success"), ("task_id", "gone")))] == 1
    assert found[("scheduler_fire_lateness_seconds_count", ())] == 1
    task.delete()
    found = scrape()
    assert not [k for k in found if dict(k[1]).get("task_id") == "gone"]
    assert found[("scheduler_fire_lateness_seconds_count", ())] == 1  # a counter: it never falls
    assert found[("scheduler_fire_lateness_seconds_sum", ())] == 2.0
    settings.METRICS_PER_TASK = "off"
    found = scrape()
    assert found[("scheduler_executions_total", (("status", "success"),))] == 1
    assert found[("scheduler_execution_duration_seconds_count", ())] == 1
