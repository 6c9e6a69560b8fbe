"""SQLite write transactions (scheduler_site/sqlite3): one that finds the write lock taken waits for it, trying
again every few milliseconds instead of through the busy handler's long sleeps, and gives up with "database is
locked" only once the connection's busy timeout has passed."""
import sqlite3
import threading
import time

import pytest
from django.db import OperationalError, connection, transaction

from scheduler_site.sqlite3 import base as sqlite_base
from tasks_app.models import ConfigVersion

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's write lock")]


def hold_the_write_lock(seconds, started):
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started.set()
    time.sleep(seconds)
    other.execute("COMMIT")
    other.close()


def test_a_write_transaction_waits_for_the_lock_and_starts_soon_after_it_is_free():
    ConfigVersion.bump()
    started = threading.Event()
    holder = threading.Thread(target=hold_the_write_lock, args=(0.3, started))
    holder.start()
    started.wait(5)
    began = time.monotonic()
    with transaction.atomic():
        waited = time.monotonic() - began
        ConfigVersion.bump()
    holder.join()
    assert waited >= 0.25  # it did wait for the lock
    assert ConfigVersion.current() == 2
    # The connection's busy timeout is back for the statements outside a transaction.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == 30_000


def test_a_write_transaction_gives_up_once_the_busy_timeout_has_passed():
    connection.ensure_connection()
    connection.connection.execute("PRAGMA busy_timeout = 200")
    started = threading.Event()
    holder = threading.Thread(target=hold_the_write_lock, args=(1.0, started))
    holder.start()
    started.wait(5)
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            with transaction.atomic():
                pass
    finally:
        holder.join()
        connection.connection.execute("PRAGMA busy_timeout = 30000")


@pytest.fixture
def queued_writers():
    sqlite_base.queue_writers()
    yield sqlite_base._writers
    sqlite_base._writers = None


def test_with_queued_writers_a_thread_waits_its_turn_without_asking_sqlite_and_a_rollback_gives_the_turn_back(
        queued_writers):
    """serve's web processes: while one thread's write transaction is open, another thread of the process does
    not poll SQLite for the lock; the first one's rollback (an exception) passes the turn on."""
    ConfigVersion.bump()
    first_in, first_go, second_ready, second_done = (threading.Event() for _ in range(4))
    statements = []

    def first():
        try:
            with transaction.atomic():
                ConfigVersion.bump()
                first_in.set()
                first_go.wait(10)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        finally:
            connection.close()

    def second():
        connection.ensure_connection()
        connection.connection.set_trace_callback(statements.append)
        second_ready.set()
        with transaction.atomic():
            ConfigVersion.bump()
        second_done.set()
        connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_in.wait(10) and queued_writers.locked()
    threads[1].start()
    assert second_ready.wait(10)
    assert not second_done.wait(0.3)  # the first one's transaction is open: the second waits ...
    assert not [s for s in statements if s.startswith("BEGIN")]  # ... for its turn, not by polling SQLite
    first_go.set()
    assert second_done.wait(10)
    for thread in threads:
        thread.join()
    assert ConfigVersion.current() == 2  # the first one's bump rolled back, the second one's committed
    assert not queued_writers.locked()
