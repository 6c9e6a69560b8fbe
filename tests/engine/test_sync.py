"""Keeping jobs in step with tasks: changes through the services reach the engine by the change marker, and the
periodic full resync repairs a job store changed behind the scheduler's back."""
import time
import zoneinfo

from django_apscheduler.models import DjangoJob

from tasks_app.models import TaskStatus
from tasks_app.services import tasks as services

from .conftest import wait_for


def job(task_id):
    return DjangoJob.objects.filter(id=task_id).first()


def test_tasks_created_changed_and_deleted_through_the_services_are_followed_within_two_seconds(start_engine):
    start_engine()
    began = time.monotonic()
    task = services.create_task({"task_id": "report", "task_name": "Report", "task_exec": "ok.py",
                                 "task_schedule": "0 6 * * *", "task_timezone": "Asia/Shanghai"},
                                actor="alice", via="api")
    first = wait_for(lambda: job("report"), 2, what="the new task's job").next_run_time
    assert first.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).hour == 6

    services.update_task(task, {"task_timezone": "Europe/Paris"}, actor="alice", via="api", partial=True)
    moved = wait_for(lambda: job("report") and job("report").next_run_time != first and job("report"), 2)
    assert TaskStatus.objects.get(task=task).next_run_time == moved.next_run_time

    services.update_task(task, {"task_desc": "only words"}, actor="alice", via="api", partial=True)
    services.delete_task(task, actor="alice", via="api")
    wait_for(lambda: job("report") is None, 2, what="the job to go")
    assert time.monotonic() - began < 8


def test_the_periodic_full_resync_writes_back_a_job_deleted_behind_its_back(start_engine, make_task, settings):
    settings.SCHEDULER_RESYNC_INTERVAL = 1
    make_task("kept", task_schedule="*/5 * * * *")
    start_engine()
    stored = wait_for(lambda: job("kept"), 2).next_run_time
    DjangoJob.objects.filter(id="kept").delete()  # e.g. through django-apscheduler's own admin
    assert wait_for(lambda: job("kept"), 3, what="the full resync").next_run_time == stored


def test_the_periodic_resync_reads_every_task_only_when_something_moved_and_follows_an_edit_made_behind_its_back(
        start_engine, make_task, settings, monkeypatch):
    from django.utils import timezone

    from tasks_app.engine import jobs
    from tasks_app.models import Task

    settings.SCHEDULER_RESYNC_INTERVAL = 0.5
    make_task("quiet", task_schedule="*/5 * * * *", task_timezone="UTC")
    checked, full_reads = [], []
    fingerprint, load_rows = jobs.fingerprint, jobs.load_rows
    monkeypatch.setattr(jobs, "fingerprint", lambda: checked.append(1) or fingerprint())
    monkeypatch.setattr(jobs, "load_rows", lambda: full_reads.append(1) or load_rows())
    start_engine()
    wait_for(lambda: len(checked) >= 5, 10, what="five periodic resyncs")
    assert len(full_reads) <= 2  # the start's read and the first resync's (no fingerprint yet): then none

    # A write that bumps no configuration marker (raw SQL, a script): the next resync sees it moved.
    Task.objects.filter(task_id="quiet").update(task_schedule="7 3 * * *", updated_at=timezone.now())
    moved = wait_for(lambda: job("quiet") if job("quiet").next_run_time.minute == 7 else None, 5,
                     what="the resync to follow the edit")
    assert moved.next_run_time.hour == 3



def test_start_up_writes_every_job_and_next_run_in_batches_and_fills_a_missing_status_row(start_engine, make_task):
    from tasks_app.engine import jobs

    for i in range(jobs.BATCH + 5):  # more than one batch
        make_task(f"t{i:04d}", task_schedule=f"{i % 60} {i // 60 % 24} * * *", task_timezone="UTC")
    bare = make_task("bare", task_schedule="30 7 * * *", task_timezone="Asia/Shanghai")
    TaskStatus.objects.filter(task=bare).delete()  # a task written straight into the table
    start_engine()
    stored = dict(DjangoJob.objects.values_list("id", "next_run_time"))
    shown = dict(TaskStatus.objects.values_list("task__task_id", "next_run_time"))
    assert len(stored) == jobs.BATCH + 6 + 1  # and the engine's housekeeping job
    assert {task_id: stored[task_id] for task_id in shown} == shown
    assert (shown["t0061"].hour, shown["t0061"].minute) == (1, 1)
    assert shown["bare"].astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).hour == 7
