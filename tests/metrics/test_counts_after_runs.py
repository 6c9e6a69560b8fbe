"""/metrics after real runs of the engine (in-process, real task processes, a real HTTP server): its counters and
histograms match the executions table, they only grow when the daily housekeeping deletes old runs, and the gauges
say what runs now."""
from collections import Counter

import pytest

from tasks_app.engine.housekeeping import prune_history
from tasks_app.metrics.tally import ran
from tasks_app.models import ExecutionStatus, TaskExecution
from tasks_app.services.executions import run_now, stop_task
from tests.engine.conftest import engine_scripts, make_task, start_engine, wait_for  # noqa: F401
from tests.engine.test_policies import next_minute  # noqa: F401

from .conftest import samples, scrape_http

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def all_ended():
    return not TaskExecution.objects.filter(status__in=ExecutionStatus.active()).exists()


def table_counts() -> Counter:
    return Counter({(task_id, status): n for task_id, status, n in _grouped()})


def _grouped():
    from django.db.models import Count

    return (TaskExecution.objects.order_by().values_list("task__task_id", "status")
            .annotate(n=Count("pk")).values_list("task__task_id", "status", "n"))


def metric_counts(found) -> Counter:
    return Counter({(dict(labels)["task_id"], dict(labels)["status"]): value for (name, labels), value in found.items()
                    if name == "scheduler_executions_total" and value})


def test_after_real_runs_the_counters_and_histograms_match_the_executions_table(
        start_engine, make_task, next_minute, live_server):
    ok = make_task("ok", task_exec="ok.py")
    failing = make_task("failing", task_exec="fail.py", task_retry=1, task_retry_interval=0)
    slow = make_task("slow", task_exec="sleep.py", task_env={"SLEEP": "30"}, task_overlap="skip")
    start_engine(tick=0.1)
    for _ in range(3):
        run_now(ok, actor="alice", via="api")
    run_now(failing, actor="alice", via="api")
    first = run_now(slow, actor="alice", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=first.pk, status="running").exists(), 5, what="the slow run")
    run_now(slow, actor="alice", via="api")  # skipped: the first still runs
    wait_for(lambda: TaskExecution.objects.filter(task=slow, status="skipped").exists(), 5, what="the skip")

    during = samples(scrape_http(live_server).body.decode())
    assert during[("scheduler_running_executions", ())] >= 1  # the slow run (the quick ones may be over)
    stop_task(slow, actor="alice", via="api")
    wait_for(all_ended, 10, what="the stop")
    minute = next_minute()
    scheduled = make_task("every-minute", task_exec="ok.py", task_schedule="* * * * *")
    wait_for(lambda: TaskExecution.objects.filter(task=scheduled, scheduled_time=minute).exists(), 10,
             what="the scheduled run")
    wait_for(all_ended, 20, what="every run to end")

    answer = scrape_http(live_server)
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(answer.body.decode())
    assert metric_counts(found) == table_counts()
    assert {status for _, status in table_counts()} >= {"success", "failed", "skipped", "stopped"}

    runs = list(TaskExecution.objects.select_related("task"))
    for task in (ok, failing, slow, scheduled):
        took = [r.duration for r in runs if r.task_id == task.pk and ran(r.status, r.return_code)]
        labels = (("task_id", task.task_id),)
        assert found[("scheduler_execution_duration_seconds_count", labels)] == len(took)
        assert found[("scheduler_execution_duration_seconds_sum", labels)] == pytest.approx(sum(took))
        inf = found[("scheduler_execution_duration_seconds_bucket", (("le", "+Inf"),) + labels)]
        assert inf == len(took)
    on_schedule = [r for r in runs if r.trigger == "schedule" and ran(r.status, r.return_code)]
    assert found[("scheduler_fire_lateness_seconds_count", ())] == len(on_schedule) >= 1
    lateness = sum((r.start_time - r.scheduled_time).total_seconds() for r in on_schedule)
    assert found[("scheduler_fire_lateness_seconds_sum", ())] == pytest.approx(lateness)
    assert found[("scheduler_running_executions", ())] == 0 and found[("scheduler_queued_executions", ())] == 0

    # More runs: only they are added (each run once, however many scrapes).
    before = metric_counts(found)
    for _ in range(2):
        run_now(ok, actor="alice", via="api")
        wait_for(all_ended, 10, what="one more run")
    scrape_http(live_server)
    again = metric_counts(samples(scrape_http(live_server).body.decode()))
    assert again == table_counts() and again[("ok", "success")] == before[("ok", "success")] + 2


def test_the_counters_never_fall_when_the_housekeeping_deletes_old_runs(start_engine, make_task, live_server):
    ok = make_task("kept-short", task_exec="ok.py")
    start_engine(tick=0.1)
    for _ in range(4):
        run_now(ok, actor="alice", via="api")
        wait_for(all_ended, 10, what="one run")
    # Not scraped before: the housekeeping counts the runs itself before it deletes them.
    assert prune_history(keep=1)["by_count"] == 3
    assert TaskExecution.objects.filter(task=ok).count() == 1
    found = samples(scrape_http(live_server).body.decode())
    assert found[("scheduler_executions_total", (("status", "success"), ("task_id", "kept-short")))] == 4
    assert found[("scheduler_execution_duration_seconds_count", (("task_id", "kept-short"),))] == 4
