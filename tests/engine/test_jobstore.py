"""The job store after a fire: only the next_run_time column is written (the pickled state is left as it was), and
a job read back - by a scheduler started after a restart - takes its next run time from that column."""
import threading
from datetime import datetime, timedelta, timezone

from django_apscheduler.models import DjangoJob

from tasks_app.engine.jobstore import EngineJobStore
from tasks_app.models import ExecutionStatus, TaskExecution

from .conftest import wait_for

UTC = timezone.utc


def stop_engines():
    for thread in threading.enumerate():
        if thread.name == "engine-loop":
            thread.join(30)
            assert not thread.is_alive()


def test_a_fired_job_read_back_after_a_restart_waits_for_the_slot_after_the_one_it_fired(
        start_engine, make_task, time_machine):
    minute = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    following = minute + timedelta(minutes=1)
    time_machine.move_to(minute - timedelta(seconds=1.5), tick=True)
    task = make_task("every", task_exec="ok.py", task_schedule="* * * * *")
    first = start_engine()
    wait_for(lambda: TaskExecution.objects.filter(task=task, scheduled_time=minute,
                                                  status=ExecutionStatus.SUCCESS).exists(), 10, what="the slot's run")
    assert DjangoJob.objects.get(id="every").next_run_time == following
    first.request_stop()
    stop_engines()

    store = EngineJobStore()
    store._scheduler, store._alias = first.timetable.scheduler, "default"
    assert store.lookup_job("every").next_run_time == following
    assert [j.next_run_time for j in store.get_all_jobs() if j.id == "every"] == [following]
    assert not [j for j in store.get_due_jobs(minute + timedelta(seconds=30)) if j.id == "every"]

    second = start_engine()  # reads the stored job: the slot it fired is not pending again
    assert second.timetable.store.lookup_job("every").next_run_time == following
    assert second.starts == []
    time_machine.move_to(following - timedelta(seconds=1.5), tick=True)
    wait_for(lambda: TaskExecution.objects.filter(task=task, scheduled_time=following).exists(), 10,
             what="the next slot's run")
    assert TaskExecution.objects.filter(task=task, scheduled_time=minute).count() == 1


def test_a_job_read_again_is_copied_not_unpickled_again_and_an_edited_task_never_gets_its_old_job(
        transactional_db, make_task):
    """process_due reads every due job at each fire: the job unpickled from the same stored bytes is copied, and a
    task whose schedule changed (its job's pickle rewritten) is read with its new trigger at once."""
    from django.utils import timezone as dj_timezone

    from tasks_app.engine import bookkeeping
    from tasks_app.engine.timetable import Timetable
    from tasks_app.models import ConfigVersion, Task

    task = make_task("every", task_schedule="* * * * *")
    timetable = Timetable(threading.Event(), tick=0.5, ahead=0.5)
    timetable.start()
    try:
        timetable.read_tasks(bookkeeping.poll("w")[0])
        timetable.schedule_all(dj_timezone.now())
        store, later = timetable.store, dj_timezone.now() + timedelta(hours=2)

        def due():
            return [job for job in store.get_due_jobs(later) if job.id == "every"]

        [first] = due()
        stored = DjangoJob.objects.get(id="every").next_run_time
        first._modify(next_run_time=stored + timedelta(minutes=5))  # as process_due does with the job it fired
        [again] = due()
        assert again is not first and again.trigger is first.trigger  # a copy of the job unpickled before
        assert again.next_run_time == stored  # from the column, not from the copy changed above
        assert (again.trigger.expression, again.args, again.func) == ("* * * * *", ("every",), first.func)

        Task.objects.filter(pk=task.pk).update(task_schedule="*/5 * * * *")
        ConfigVersion.bump()
        timetable.follow(bookkeeping.poll("w")[0])
        [edited] = due()
        assert edited.trigger.expression == "*/5 * * * *" and edited.trigger is not first.trigger
        assert store.lookup_job("every").trigger.expression == "*/5 * * * *"
    finally:
        timetable.stop()
