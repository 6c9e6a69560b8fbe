"""Django's SQLite backend, with write transactions that queue for the database's one write lock by retrying
often instead of through SQLite's busy handler.

The busy handler sleeps 1, 2, 5, 10 ... then 100 ms between tries, so under load (web processes and the
scheduler writing at once) waiting writers slept while the lock stood free: API edits queued at about 10 a
second behind transactions of a few milliseconds. Here BEGIN IMMEDIATE is tried every 0.5 to 5 ms until the
connection's own busy timeout has passed; every other statement keeps the busy handler."""
import random
import sqlite3
import time

from django.db.backends.sqlite3 import base

FIRST_PAUSE, LONGEST_PAUSE = 0.0005, 0.005


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self):
        if self.transaction_mode is None:
            return super()._start_transaction_under_autocommit()
        raw = self.connection
        timeout_ms = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        deadline = time.monotonic() + timeout_ms / 1000
        pause = FIRST_PAUSE
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    raw.execute(f"BEGIN {self.transaction_mode}")
                    return
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc) or time.monotonic() >= deadline:
                        with self.wrap_database_errors:
                            raise
                # Random, so that writers that collided once do not collide again.
                time.sleep(pause * random.uniform(0.5, 1.0))
                pause = min(pause * 2, LONGEST_PAUSE)
        finally:
            raw.execute(f"PRAGMA busy_timeout = {timeout_ms}")


def _is_busy(exc) -> bool:
    # SQLITE_BUSY (5) and SQLITE_LOCKED (6), extended codes included.
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in (5, 6) or "database is locked" in str(exc)
