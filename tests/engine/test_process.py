"""The real `manage.py runscheduler` process: one per database, SIGTERM, kill -9 and recovery, changes made
through the admin while it runs, run now, and a cron slot fired on the real clock."""
import os
import shutil
import signal
import time
import zoneinfo
from datetime import datetime, timezone
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django_apscheduler.models import DjangoJob

from tasks_app.models import ExecutionStatus, Task, TaskExecution, TaskStatus
from tasks_app.services.executions import run_now

from .conftest import SCRIPTS, journal_pid, process_alive, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
SHIPPED_TEST_TASK = Path(settings.BASE_DIR) / "tasks" / "test_task.py"


def execution(pk):
    return TaskExecution.objects.get(pk=pk)


def test_a_second_scheduler_started_with_no_standby_is_refused_naming_the_first(runscheduler, engine_scripts):
    first = runscheduler()
    second = runscheduler("--no-standby", ready=False)
    assert second.proc.wait(20) == 1
    assert f"another scheduler is already running on this database: pid {first.pid}" in second.output()
    assert first.proc.poll() is None

    given_up = runscheduler(ready=False)
    wait_for(lambda: f"Standby: the scheduler pid {first.pid}" in given_up.output(), 20)
    given_up.proc.send_signal(signal.SIGTERM)
    assert given_up.proc.wait(5) == 0

    waiting = runscheduler("--wait", ready=False)
    wait_for(lambda: f"Standby: the scheduler pid {first.pid}" in waiting.output(), 20)
    assert first.stop() == 0
    waiting.wait_ready(10)


def test_sigterm_stops_taking_work_records_running_runs_as_stopped_and_exits_0(runscheduler, make_task,
                                                                               engine_scripts):
    task = make_task("long", task_exec="sleep.py", task_env={"SLEEP": "60"})
    scheduler = runscheduler(env={"SCHEDULER_STOP_GRACE": "1"})
    run = run_now(task, actor="alice", via="api")
    wait_for(lambda: execution(run.pk).status == ExecutionStatus.RUNNING, 2)
    child = wait_for(lambda: journal_pid(run.pk), 5, what="the child to start")

    scheduler.proc.send_signal(signal.SIGTERM)
    assert scheduler.proc.wait(15) == 0, scheduler.output()
    stopped = execution(run.pk)
    assert stopped.status == ExecutionStatus.STOPPED and "scheduler shutting down" in stopped.error_message
    assert stopped.end_time and stopped.duration is not None and stopped.stop_requested_by == "scheduler"
    assert not TaskStatus.objects.get(task=task).running
    assert not process_alive(child)
    assert "Scheduler engine stopped" in scheduler.output()


@pytest.fixture
def copied_scripts(settings, monkeypatch, tmp_path):
    """A tasks folder holding the shipped test_task.py and the family script."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    shutil.copy(SHIPPED_TEST_TASK, folder / "test_task.py")
    shutil.copy(SCRIPTS / "family.py", folder / "family.py")
    settings.TASKS_DIR = folder
    monkeypatch.setenv("TASKS_DIR", str(folder))
    return folder


def test_after_kill_9_no_process_survives_the_run_is_lost_and_the_next_slot_fires_on_time(
        runscheduler, make_task, copied_scripts, tmp_path):
    pids_file = tmp_path / "pids"
    family = make_task("family", task_exec="family.py", task_env={"PIDS_FILE": str(pids_file), "SLEEP": "60"})
    every = make_task("every-minute", task_exec="tasks/test_task.py", task_schedule="* * * * *",
                      task_env={"PARAM1": "值1", "PARAM2": "值2", "DISPLAY_COLOR": "blue"})
    first = runscheduler()
    run = run_now(family, actor="alice", via="api")
    child, grandchild = map(int, wait_for(lambda: pids_file.exists() and pids_file.read_text().split(), 10))
    old_worker = execution(run.pk).worker

    os.kill(first.pid, signal.SIGKILL)
    first.proc.wait(5)
    # The task's own process dies with the engine (parent-death signal).
    wait_for(lambda: not process_alive(child), 3, what="the child to die with the engine")

    restarted = time.monotonic()
    second = runscheduler()
    lost = wait_for(lambda: execution(run.pk).status == ExecutionStatus.LOST and execution(run.pk), 10,
                    what="the run to be recorded lost")
    assert time.monotonic() - restarted < 10
    assert lost.error_message == f"scheduler process {old_worker} died while this run was in progress"
    assert lost.end_time and lost.duration >= 0
    assert not TaskStatus.objects.get(task=family).running
    wait_for(lambda: not process_alive(grandchild), 3, what="the orphaned grandchild to be killed")

    # The next slot fires on the minute (within a second) and runs the shipped test task to success.
    live_from = datetime.now(timezone.utc)

    def fired_live():
        return TaskExecution.objects.filter(task=every, trigger="schedule", scheduled_time__gt=live_from,
                                            status__in=ExecutionStatus.finished()).first()

    fired = wait_for(fired_live, 75, interval=0.2, what="the next every-minute slot")
    assert fired.scheduled_time.second == 0 and fired.scheduled_time.microsecond == 0
    lateness = (fired.start_time - fired.scheduled_time).total_seconds()
    assert 0 <= lateness < 1.0, f"started {lateness:.3f} s after its slot"
    assert fired.status == ExecutionStatus.SUCCESS and 1.8 <= fired.duration <= 5, (fired.status, fired.duration)
    log_text = (Path(settings.LOGS_DIR) / "task_every-minute.log").read_text(encoding="utf-8")
    runs_logged = TaskExecution.objects.filter(task=every, status=ExecutionStatus.SUCCESS).count()
    # The script logs each parameter twice per run (its config block and its environment listing).
    assert log_text.count("PARAM1 = 值1") == 2 * runs_logged
    assert log_text.count(f"Execution {fired.pk} starting") == 1
    assert second.proc.poll() is None


@pytest.mark.django_db(transaction=True)
def test_admin_changes_reach_the_running_scheduler_within_two_seconds(runscheduler, admin_client, engine_scripts):
    from tasks_app.services.tasks import create_task

    task = create_task({"task_id": "nightly", "task_name": "Nightly", "task_exec": "ok.py",
                        "task_schedule": "0 9 * * 0"}, actor="setup", via="cli")
    runscheduler()
    job = lambda: DjangoJob.objects.filter(id="nightly").first()  # noqa: E731
    sunday = wait_for(job, 2).next_run_time

    def timed(what, change, condition):
        began = time.monotonic()
        change()
        wait_for(condition, 2, what=what)
        return time.monotonic() - began

    changelist = reverse("admin:tasks_app_task_changelist")
    change_url = reverse("admin:tasks_app_task_change", args=[task.pk])
    form = {"task_name": "Nightly", "task_desc": "", "task_exec": "ok.py", "task_schedule": "30 8 * * *",
            "task_enabled": "on", "task_timeout": "", "task_retry": "0", "task_retry_interval": "60",
            "task_timezone": "", "task_overlap": "skip", "task_misfire_grace": "60", "task_log": "",
            "task_env": "{}", "task_dependencies": "[]", "task_notify": "{}"}

    def edit():
        assert admin_client.post(change_url, form).status_code == 302

    timed("the edit", edit, lambda: job() and job().next_run_time != sunday)
    assert job().next_run_time.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).strftime("%H:%M") == "08:30"

    def action(name):
        return lambda: admin_client.post(changelist, {"action": name, "_selected_action": [task.pk]})

    timed("disable", action("disable_tasks"), lambda: job() is None)
    timed("enable", action("enable_tasks"), lambda: job() is not None)

    def delete():
        delete_url = reverse("admin:tasks_app_task_delete", args=[task.pk])
        assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302

    timed("delete", delete, lambda: job() is None and not Task.objects.filter(task_id="nightly").exists())

    adhoc = create_task({"task_id": "adhoc", "task_name": "Ad hoc", "task_exec": "ok.py",
                         "task_schedule": "0 0 1 1 *"}, actor="setup", via="cli")
    page = admin_client.post(changelist, {"action": "run_now", "_selected_action": [adhoc.pk]}, follow=True)
    assert "Queued to run now" in page.content.decode()
    queued = TaskExecution.objects.get(task=adhoc, trigger="manual")
    started = wait_for(lambda: execution(queued.pk).start_time and execution(queued.pk), 1.5, what="run now")
    assert (started.start_time - started.queued_at).total_seconds() < 1.0
    wait_for(lambda: execution(queued.pk).status == ExecutionStatus.SUCCESS, 10)
