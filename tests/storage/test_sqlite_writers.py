"""SQLite write transactions (scheduler_site/sqlite3): one that finds the write lock taken waits for it, trying
again every few milliseconds instead of through the busy handler's long sleeps, and gives up with "database is
locked" only once the connection's busy timeout has passed."""
import sqlite3
import threading
import time

import pytest
from django.db import OperationalError, connection, transaction

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
