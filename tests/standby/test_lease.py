"""The lease that says which scheduler leads (engine/lock.py, models.SchedulerLease): taken by one, refused to the
next while it is renewed, taken over once it expires or is released, and a leader that cannot renew it starts
nothing until it can. Driven in-process on the real database; PostgreSQL decides by the lease alone, SQLite by a
file lock (the lease row is then the heartbeat only)."""
import re
import time
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.models.functions import Now
from django.utils import timezone

from tasks_app.engine.lock import LockHeld, SchedulerLock
from tasks_app.models import ExecutionStatus, SchedulerLease, TaskExecution
from tasks_app.services.executions import run_now

from .conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
EARLIER = datetime(2020, 1, 1, tzinfo=UTC)
needs_postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                      reason="on SQLite a file lock decides, which a live holder never loses")


@pytest.fixture
def locks():
    made = []

    def make(worker):
        lock = SchedulerLock(worker)
        made.append(lock)
        return lock

    yield make
    for lock in made:
        lock.release()


def test_one_scheduler_takes_the_lease_and_the_next_is_refused_naming_it(locks):
    first = locks("alpha:1")
    first.acquire()
    lease = SchedulerLease.objects.current()
    assert lease.holder == "alpha:1" and lease.alive() and lease.released_at is None
    # Three heartbeats of 2 s; on SQLite, where the file lock leads and the row is renewed every 5 heartbeats,
    # two heartbeats after the next renewal is due.
    lasts = 14 if connection.vendor == "sqlite" else 6
    assert lasts - 0.5 <= (lease.expires_at - lease.renewed_at).total_seconds() <= lasts + 0.5

    with pytest.raises(LockHeld) as refused:
        locks("beta:2").acquire()
    assert str(refused.value).startswith("another scheduler is already running on this database: pid ")
    assert SchedulerLease.objects.current().holder == "alpha:1"


def test_a_stopped_leader_releases_the_lease_and_the_standby_takes_it_at_once(locks):
    first = locks("alpha:1")
    first.acquire()
    first.release()
    assert not SchedulerLease.objects.current().alive()

    second = locks("beta:2")
    second.acquire()
    lease = SchedulerLease.objects.current()
    assert lease.holder == "beta:2" and lease.alive()
    assert second.previous_seen is not None  # the first one's last heartbeat: missed slots count from there


@needs_postgresql
def test_a_standby_takes_over_once_the_leader_stops_renewing_and_the_old_leader_finds_it_taken(locks, settings):
    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.3  # a lease of 0.9 s
    first = locks("alpha:1")
    first.acquire()
    renewed = SchedulerLease.objects.current().renewed_at

    began = time.monotonic()
    second = locks("beta:2")
    deadline = began + 10
    second.acquire(wait=True, give_up=lambda: time.monotonic() > deadline)
    assert time.monotonic() - began < 0.9 + 0.5 + 1.0  # the lease, a poll, and slack for a loaded machine
    assert SchedulerLease.objects.current().holder == "beta:2"
    assert second.previous_seen == renewed

    assert first.fenced()  # it knows its lease may be gone before anyone tells it
    assert first.renew() is False  # and renewing tells it: it must stop
    assert second.renew() is True and SchedulerLease.objects.current().holder == "beta:2"


@needs_postgresql
def test_a_start_longer_than_the_lease_keeps_it_so_that_no_standby_takes_over(locks, settings):
    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.3
    lock = locks("alpha:1")
    lock.acquire()
    standby = locks("beta:2")
    with lock.kept_alive():
        began = time.monotonic()
        while time.monotonic() - began < 2.0:  # two seconds of start-up work, more than twice the lease
            with pytest.raises(LockHeld):
                standby.acquire()
            time.sleep(0.1)
    assert lock.renew() and SchedulerLease.objects.current().holder == "alpha:1"


@needs_postgresql
def test_a_leader_that_cannot_renew_is_fenced_after_two_heartbeats_and_free_again_once_it_renews(locks, settings):
    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.3
    lock = locks("alpha:1")
    lock.acquire()
    assert not lock.fenced()
    began = time.monotonic()
    wait_for(lock.fenced, 5, interval=0.01, what="the fence")
    assert 0.55 <= time.monotonic() - began <= 0.9  # two heartbeats, before the lease ends (three)
    assert lock.renew() and not lock.fenced()


@needs_postgresql
def test_a_renewal_on_a_connection_the_server_dropped_raises_djangos_error_and_the_next_round_reconnects(locks):
    from django.db import DatabaseError, close_old_connections

    lock = locks("alpha:1")
    lock.acquire()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with psycopg_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(DatabaseError):  # what the engine's heartbeat catches and reports, not a psycopg error
        lock.renew()
    close_old_connections()  # as each round begins: the broken connection is closed
    assert lock.renew() is True and not lock.fenced()


def test_a_renewal_inside_a_transaction_belongs_to_it(locks):
    from django.db import transaction

    lock = locks("alpha:1")
    lock.acquire()
    SchedulerLease.objects.update(renewed_at=EARLIER)  # a renewal now is surely later, at any clock resolution
    before = SchedulerLease.objects.current().renewed_at
    with pytest.raises(RuntimeError), transaction.atomic():
        assert lock.renew() is True
        raise RuntimeError("rolled back")
    assert SchedulerLease.objects.current().renewed_at == before
    assert lock.renew() is True and SchedulerLease.objects.current().renewed_at > before


def test_a_renewal_writes_the_times_as_the_orm_writes_now_and_a_released_lease_is_not_renewed(locks):
    """The renewal is plain SQL on both databases (an idle engine's cheapest write): what it stores must read
    back as the ORM's own Now() would, judged by the same queries (alive, expired)."""
    lock = locks("alpha:1")
    lock.acquire()
    SchedulerLease.objects.update(renewed_at=EARLIER, expires_at=EARLIER)
    assert not SchedulerLease.objects.current().alive()
    assert lock.renew() is True
    lease, now = SchedulerLease.objects.current(), timezone.now()
    assert lease.alive() and abs((lease.renewed_at - now).total_seconds()) < 2
    assert (lease.expires_at - lease.renewed_at).total_seconds() == pytest.approx(lock.lasts, abs=0.002)
    assert SchedulerLease.objects.filter(expires_at__gt=Now()).count() == 1
    if connection.vendor == "sqlite":  # stored as text: the same shape as Now()'s, so that they compare as text
        with connection.cursor() as cursor:
            cursor.execute("SELECT CAST(renewed_at AS TEXT), CAST(expires_at AS TEXT), "
                           "STRFTIME('%Y-%m-%d %H:%M:%f', 'now') FROM tasks_app_schedulerlease")
            shapes = {re.sub(r"\d", "9", value) for value in cursor.fetchone()}
        assert shapes == {"9999-99-99 99:99:99.999"}

    lock.release()
    assert lock.renew() is False and not SchedulerLease.objects.current().alive()


def psycopg_connection():
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def test_on_sqlite_the_file_lock_decides_and_a_leader_is_never_fenced(locks, settings):
    if connection.vendor != "sqlite":
        pytest.skip("the file lock is SQLite's")
    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.2
    lock = locks("alpha:1")
    lock.acquire()
    # The lease row expires (nobody renews it) ...
    wait_for(lambda: not SchedulerLease.objects.current().alive(), 5, what="the lease row to expire")
    with pytest.raises(LockHeld):  # ... but the holder is alive, so nobody else takes over
        locks("beta:2").acquire()
    assert not lock.fenced()


@pytest.fixture
def refused_renewals():
    """refuse(True/False): the database refuses (or accepts again) every write to the lease, through a trigger:
    what a leader sees when its database is unreachable for it, while the test can still look."""
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL trigger")
    with connection.cursor() as cursor:
        cursor.execute("CREATE OR REPLACE FUNCTION refuse_lease() RETURNS trigger AS $$ BEGIN "
                       "RAISE EXCEPTION 'lease writes refused by the test'; END $$ LANGUAGE plpgsql")

    def refuse(on):
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS refuse_lease ON tasks_app_schedulerlease")
            if on:
                cursor.execute("CREATE TRIGGER refuse_lease BEFORE UPDATE ON tasks_app_schedulerlease "
                               "FOR EACH ROW EXECUTE FUNCTION refuse_lease()")

    yield refuse
    refuse(False)


def test_a_fenced_leader_starts_no_run_until_it_renews_its_lease(start_engine, make_task, refused_renewals,
                                                                  settings):
    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.3
    task = make_task("fenced", task_exec="ok.py")
    engine = start_engine(tick=0.1)
    refused_renewals(True)
    wait_for(lambda: engine._fenced, 5, what="two heartbeats without a renewal")
    run = run_now(task, actor="alice", via="api")
    time.sleep(1.0)  # ten ticks in which an unfenced engine would have started it
    assert TaskExecution.objects.get(pk=run.pk).status == ExecutionStatus.QUEUED

    refused_renewals(False)
    wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status=ExecutionStatus.SUCCESS).exists(), 10,
             what="the run once the lease is renewed")


def test_a_leader_whose_lease_another_scheduler_took_stops_with_exit_code_1(start_engine, make_task, settings):
    settings.SCHEDULER_HEARTBEAT_SECONDS = 0.3
    engine = start_engine(tick=0.1)
    # Another scheduler took it (its lease expired while this one was stuck, say).
    SchedulerLease.objects.filter(name="scheduler").update(holder="other:9", token="someone-else")
    wait_for(lambda: engine.exit_code == 1 and not engine.started, 10, what="the engine to stop")
    assert SchedulerLease.objects.current().holder == "other:9"  # stopping, it did not release another's lease
