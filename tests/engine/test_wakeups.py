"""Instant wake-ups and a near-zero idle cost (engine/wakeups.py, models/wakeup.py): a change, a run now and a stop
reach a real engine that polls only every few seconds, through LISTEN / NOTIFY on PostgreSQL and inotify on the
database's files on SQLite; there the tick reads the database only when another connection committed (PRAGMA
data_version)."""
import sqlite3
import time

import pytest
from django.db import connection, transaction

from tasks_app.engine import wakeups
from tasks_app.models import ConfigVersion, ExecutionStatus, Task, TaskExecution
from tasks_app.models.wakeup import CHANNEL, wake_scheduler
from tasks_app.services.executions import run_now, stop_task

from .conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN / NOTIFY is PostgreSQL's")


def sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("PRAGMA data_version is SQLite's")


def listening(engine):
    """The engine's watch is up: LISTEN on PostgreSQL, inotify on SQLite."""
    if connection.vendor == "postgresql":
        assert isinstance(engine.changes, wakeups.NotifyListener)
        wait_for(lambda: engine.changes._up, 5, what="the listener")
    else:
        assert isinstance(engine.changes, wakeups.FileWatch) and engine.changes.listening
    time.sleep(0.2)  # let the start-up's own poll pass, so that only the next notice can explain what follows


@pytest.fixture
def polls(monkeypatch):
    """The moments the engine read the database (bookkeeping.poll), in order."""
    from tasks_app.engine import bookkeeping

    moments = []
    real_poll = bookkeeping.poll
    monkeypatch.setattr(bookkeeping, "poll", lambda worker: moments.append(time.monotonic()) or real_poll(worker))
    return moments


def test_a_new_task_reaches_an_engine_that_polls_every_30_s_within_a_second(start_engine, make_task):
    engine = start_engine(tick=30)
    listening(engine)

    started = time.monotonic()
    make_task("noticed", task_schedule="0 0 1 1 *")  # written and ConfigVersion bumped: NOTIFY at commit
    wait_for(lambda: "noticed" in engine.timetable.sync.jobs, 1.0, what="the change to reach the engine")
    assert time.monotonic() - started < 1.0


def test_a_run_now_and_a_stop_reach_an_engine_that_polls_every_30_s_within_a_second(start_engine, make_task):
    task = make_task("sleepy", task_exec="sleep.py", task_env={"SLEEP": "30"})
    engine = start_engine(tick=30)
    listening(engine)

    queued = run_now(task, actor="alice", via="api")
    running = wait_for(lambda: TaskExecution.objects.filter(pk=queued.pk, status=ExecutionStatus.RUNNING).first(),
                       1.0, what="the run to be claimed")
    assert (running.start_time - running.queued_at).total_seconds() < 1.0
    stop_task(task, actor="alice", via="api")
    stopped = wait_for(lambda: TaskExecution.objects.filter(pk=queued.pk, status=ExecutionStatus.STOPPED).first(),
                       3.0, what="the stop")
    assert stopped.stop_requested_by == "alice"


def test_a_notice_is_sent_at_commit_and_never_for_a_rolled_back_write():
    postgresql_only()
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        with pytest.raises(RuntimeError), transaction.atomic():
            ConfigVersion.bump()
            raise RuntimeError("rolled back")
        assert [n.payload for n in listener.notifies(timeout=0.3)] == []
        with transaction.atomic():
            wake_scheduler("run")
            assert [n.payload for n in listener.notifies(timeout=0.3)] == []  # not before the commit
        assert [n.payload for n in listener.notifies(timeout=1.0, stop_after=1)] == ["run"]


def test_on_sqlite_the_tick_polls_only_after_another_connection_commits(settings):
    sqlite_only()
    watch = wakeups.DataVersionWatch()
    ConfigVersion.current()  # opens the connection
    assert watch.worth_polling()  # the first tick always reads
    assert not watch.worth_polling()
    ConfigVersion.bump()  # a commit of this connection (the engine's own) does not move data_version
    assert not watch.worth_polling()

    other = sqlite3.connect(settings.DATABASES["default"]["NAME"])
    other.execute(f"UPDATE {ConfigVersion._meta.db_table} SET version = version + 1")
    other.commit()
    other.close()
    assert watch.worth_polling()
    assert not watch.worth_polling()


def test_the_tick_polls_after_the_engines_own_writes_when_a_retry_is_due_and_every_few_seconds(monkeypatch):
    sqlite_only()
    watch = wakeups.DataVersionWatch()
    ConfigVersion.current()
    watch.worth_polling()
    watch.own_write()
    assert watch.worth_polling() and not watch.worth_polling()
    assert watch.worth_polling(force=True)
    watch.safety_poll = 0.0
    watch.worth_polling(force=True)  # the next safety poll is now 0 s away
    assert watch.worth_polling()  # the safety poll: whatever happened, the database is read again
    watch.safety_poll = 5.0
    watch.worth_polling(force=True)
    assert not watch.worth_polling(next_tick_in=4.0)  # the tick after the next is soon enough
    assert watch.worth_polling(next_tick_in=5.0)  # the next tick would be late: poll on this one


def test_an_idle_engine_on_sqlite_reads_the_database_only_when_something_was_written(start_engine, make_task,
                                                                                       polls):
    sqlite_only()
    task = make_task("quiet")
    engine = start_engine(tick=0.05)
    engine.changes.listening = False  # tick every 0.05 s, as without inotify: each tick asks data_version
    time.sleep(0.5)  # the start-up poll and the first ticks
    before = len(polls)
    time.sleep(1.0)  # 20 ticks with nothing written
    assert len(polls) - before == 0
    queued = run_now(task, actor="alice", via="api")  # written by another connection
    wait_for(lambda: TaskExecution.objects.filter(pk=queued.pk).exclude(status="queued").exists(), 2,
             what="the run to be claimed")
    assert len(polls) > before
    assert Task.objects.filter(pk=task.pk).exists()


def test_on_sqlite_the_engines_own_lease_renewals_do_not_wake_it_but_another_process_write_does(
        start_engine, make_task, settings, polls):
    sqlite_only()
    from tasks_app.models import SchedulerLease

    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.1  # on SQLite the row is renewed every 5 heartbeats: 0.5 s
    make_task("quiet")
    engine = start_engine()
    listening(engine)
    time.sleep(0.5)
    renewed, before = SchedulerLease.objects.current().renewed_at, len(polls)
    time.sleep(2.0)  # four renewals, each a commit to the WAL that inotify reports; the next safety poll is later
    assert SchedulerLease.objects.current().renewed_at > renewed
    assert len(polls) == before, "the engine's own renewals made it poll"

    other = sqlite3.connect(settings.DATABASES["default"]["NAME"])
    other.execute(f"UPDATE {ConfigVersion._meta.db_table} SET version = version + 1")
    other.commit()
    other.close()
    wait_for(lambda: len(polls) > before, 1.0, what="another process's write to wake the engine")


def test_an_idle_listening_engine_reads_the_database_at_least_every_safety_poll(start_engine, make_task, settings,
                                                                                  polls):
    """The effective interval, read from a real engine: its idle ticks fall on heartbeats (every 1.0 s here); the
    safety poll must not wait for the tick past SCHEDULER_SAFETY_POLL (it did: every 2.0 s here)."""
    settings.SCHEDULER_SAFETY_POLL = 1.2
    # The renewals every 0.5 s (on SQLite the row is renewed every 5 heartbeats) put the idle ticks 1.0 s apart.
    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.1 if connection.vendor == "sqlite" else 0.5
    make_task("quiet")
    engine = start_engine()
    listening(engine)
    assert engine.changes.safety_poll == 1.2 and engine.heartbeat == 0.5
    start = len(polls)
    wait_for(lambda: len(polls) >= start + 5, 10, interval=0.05, what="five polls of an idle engine")
    gaps = [later - earlier for earlier, later in zip(polls[start:], polls[start + 1:])]
    assert max(gaps) <= 1.2 + 0.15, gaps


def test_an_idle_engine_woken_by_its_heartbeat_alone_renews_its_lease_without_a_round(start_engine, make_task,
                                                                                       settings, monkeypatch):
    """Between two idle ticks the heartbeats only renew the lease: the round's other work would find nothing, and
    on PostgreSQL four wake-ups in five are such. A notice still gets its round at once (the tests above)."""
    from tasks_app.engine.lock import SchedulerLock
    from tasks_app.engine.scheduler import SchedulerEngine
    from tasks_app.models import SchedulerLease

    settings.SCHEDULER_SAFETY_POLL = 3.0
    # A renewal every 0.5 s on both databases (on SQLite the row is renewed every 5 heartbeats).
    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.1 if connection.vendor == "sqlite" else 0.5
    rounds, renewals = [], []
    real_round, real_renew = SchedulerEngine._round, SchedulerLock.renew
    monkeypatch.setattr(SchedulerEngine, "_round", lambda self: rounds.append(time.monotonic()) or real_round(self))
    monkeypatch.setattr(SchedulerLock, "renew", lambda self: renewals.append(time.monotonic()) or real_renew(self))
    make_task("quiet", task_schedule="0 0 1 1 *")
    engine = start_engine()
    listening(engine)
    first_round, first_renewal = len(rounds), len(renewals)
    renewed = SchedulerLease.objects.current().renewed_at
    wait_for(lambda: len(renewals) >= first_renewal + 8, 10, interval=0.05, what="eight renewals of an idle engine")
    assert len(rounds) - first_round <= 3, f"{len(rounds) - first_round} rounds for 8 renewals"
    assert SchedulerLease.objects.current().renewed_at > renewed and not engine.lock.fenced()
