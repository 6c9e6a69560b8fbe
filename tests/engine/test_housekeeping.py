"""Daily history pruning: newest N per task kept, old runs dropped with their output files, django-apscheduler's
job execution table pruned; and the scheduler runs it at its time, recorded as a DjangoJobExecution."""
from datetime import datetime, timedelta, timezone
from pathlib import Path

from django.utils import timezone as dj_timezone
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from tasks_app.engine.housekeeping import HOUSEKEEPING_JOB_ID, prune_history
from tasks_app.models import ExecutionStatus, TaskExecution, TaskStatus, Worker

from .conftest import wait_for

UTC = timezone.utc


def add_runs(task, count, *, age_days=0, status=ExecutionStatus.SUCCESS):
    runs = []
    for _ in range(count):
        run = TaskExecution.objects.create(task=task, status=status, trigger="manual")
        run.output_path.parent.mkdir(parents=True, exist_ok=True)
        run.output_path.write_text("output\n")
        runs.append(run)
    if age_days:
        TaskExecution.objects.filter(pk__in=[r.pk for r in runs]).update(
            queued_at=dj_timezone.now() - timedelta(days=age_days))
    return runs


def test_it_keeps_the_newest_runs_of_each_task_and_drops_old_ones_with_their_output(make_task, db):
    busy, quiet = make_task("busy"), make_task("quiet")
    old_busy = add_runs(busy, 5, age_days=200)
    new_busy = add_runs(busy, 12)
    running = add_runs(busy, 1, status=ExecutionStatus.RUNNING)
    old_quiet = add_runs(quiet, 3, age_days=100)
    new_quiet = add_runs(quiet, 2, age_days=10)
    TaskStatus.objects.filter(task=quiet).update(last_execution=old_quiet[-1])
    job = DjangoJob.objects.create(id="engine.x", next_run_time=None, job_state=b"")
    DjangoJobExecution.objects.create(job=job, status="Executed", run_time=dj_timezone.now() - timedelta(days=100))
    DjangoJobExecution.objects.create(job=job, status="Executed", run_time=dj_timezone.now())

    result = prune_history(keep=10, max_age_days=90)

    kept_busy = set(TaskExecution.objects.filter(task=busy).values_list("pk", flat=True))
    assert kept_busy == {r.pk for r in new_busy[-9:] + running}, "the newest 10, the running one among them"
    assert set(TaskExecution.objects.filter(task=quiet).values_list("pk", flat=True)) == {r.pk for r in new_quiet}
    assert result["by_count"] == 5 + 3 and result["by_age"] == 3 and result["job_executions"] == 1
    for gone in old_busy + new_busy[:3] + old_quiet:
        assert not Path(gone.output_path).exists()
    assert Path(new_busy[-1].output_path).exists()
    assert TaskStatus.objects.get(task=quiet).last_execution is None
    assert DjangoJobExecution.objects.count() == 1


def test_output_folders_of_deleted_tasks_are_removed(make_task, db, settings):
    task = make_task("doomed")
    (run,) = add_runs(task, 1)
    folder = Path(run.output_path).parent
    task.delete()
    assert prune_history()["output_dirs"] == 1 and not folder.exists()


def test_the_records_of_workers_gone_longer_than_the_history_is_kept_are_removed(db, settings):
    settings.HISTORY_MAX_AGE_DAYS = 30
    now = dj_timezone.now()

    def worker(name, heartbeat_days_ago, stopped=False):
        at = now - timedelta(days=heartbeat_days_ago)
        Worker.objects.create(name=name, hostname=name, host="m", pid=1, concurrency=1, started_at=at,
                              last_heartbeat=at, stopped_at=at if stopped else None)

    worker("alive", 0)
    worker("lost-lately", 2)
    worker("stopped-long-ago", 40, stopped=True)
    worker("lost-long-ago", 40)
    assert prune_history()["workers"] == 2
    assert sorted(Worker.objects.values_list("name", flat=True)) == ["alive", "lost-lately"]


def test_the_scheduler_prunes_daily_and_records_it_as_a_job_execution(start_engine, make_task, time_machine, settings):
    settings.TIME_ZONE = "UTC"
    settings.HISTORY_MAX_AGE_DAYS = 30
    now = datetime.now(UTC)
    time_machine.move_to((now + timedelta(days=1)).replace(hour=3, minute=16, second=59, microsecond=500000),
                         tick=True)
    task = make_task("old-news")
    add_runs(task, 4, age_days=45)
    start_engine()
    assert DjangoJob.objects.filter(id=HOUSEKEEPING_JOB_ID).exists()
    record = wait_for(lambda: DjangoJobExecution.objects.filter(job_id=HOUSEKEEPING_JOB_ID, status="Executed").first(),
                      5, what="the housekeeping run")
    assert record.run_time.strftime("%H:%M") == "03:17"
    assert not TaskExecution.objects.filter(task=task).exists()
