"""Django's SQLite backend, with write transactions that queue for the database's one write lock by retrying
often instead of through SQLite's busy handler, and, in serve's web processes, queue first among the threads of
their own process.

The busy handler sleeps 1, 2, 5, 10 ... then 100 ms between tries, so under load (web processes and the
scheduler writing at once) waiting writers slept while the lock stood free: API edits queued at about 10 a
second behind transactions of a few milliseconds. Here BEGIN IMMEDIATE is tried every 0.5 to 5 ms until the
connection's own busy timeout has passed; every other statement keeps the busy handler.

Under load, the eight threads of a web process that wanted to write each polled like that: py-spy counted a fifth
of their wait in BEGIN attempts, each taking the GIL from the thread that held the write lock and needed it to
finish. With queue_writers(), the threads of one process wait their turn on a lock of the process (no polling,
no GIL), and only the first polls SQLite."""
import random
import sqlite3
import threading
import time

from django.db.backends.sqlite3 import base

FIRST_PAUSE, LONGEST_PAUSE = 0.0005, 0.005

_writers = None  # threading.Lock that a process's write transactions hold from BEGIN to COMMIT, once queued


def queue_writers() -> None:
    """From now on, this process's write transactions queue on a lock of the process before asking SQLite
    (serve's web processes call it; see the module's docstring)."""
    global _writers
    if _writers is None:
        _writers = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_writers = False  # this connection (one thread's) holds _writers

    def _start_transaction_under_autocommit(self):
        if self.transaction_mode is None:
            return super()._start_transaction_under_autocommit()
        raw = self.connection
        timeout_ms = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        deadline = time.monotonic() + timeout_ms / 1000
        writers = _writers
        if writers is not None and not self._holds_writers:
            # Past the deadline without the turn, poll SQLite as before: its busy error is the answer then.
            self._holds_writers = writers.acquire(timeout=timeout_ms / 1000)
        pause = FIRST_PAUSE
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    raw.execute(f"BEGIN {self.transaction_mode}")
                    return
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc) or time.monotonic() >= deadline:
                        self._release_writers()
                        with self.wrap_database_errors:
                            raise
                # Random, so that writers that collided once do not collide again.
                time.sleep(pause * random.uniform(0.5, 1.0))
                pause = min(pause * 2, LONGEST_PAUSE)
        except BaseException:
            self._release_writers()
            raise
        finally:
            raw.execute(f"PRAGMA busy_timeout = {timeout_ms}")

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writers()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writers()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writers()

    def _release_writers(self):
        if self._holds_writers:
            self._holds_writers = False
            _writers.release()


def _is_busy(exc) -> bool:
    # SQLITE_BUSY (5) and SQLITE_LOCKED (6), extended codes included.
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in (5, 6) or "database is locked" in str(exc)
