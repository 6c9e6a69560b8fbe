"""Whether the tick's poll is worth running: the scheduler's idle cost. On PostgreSQL a thread LISTENs for the
NOTIFY that web writes send at commit (models/wakeup.py) and wakes the loop at once, so an idle scheduler only
polls every SCHEDULER_SAFETY_POLL seconds. On SQLite the tick asks `PRAGMA data_version` (a few microseconds, no query
plan) and polls only when another connection committed since. Either way a poll also runs after the engine's
own writes, when a retry falls due, and at least every SCHEDULER_SAFETY_POLL seconds whatever happens."""
import ctypes
import logging
import os
import select
import struct
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

from tasks_app.models.wakeup import CHANNEL

log = logging.getLogger("SchedulerEngine")

RECONNECT_AFTER = 2.0  # seconds between attempts when the listening connection is lost
SETTLE = 0.05  # seconds between a write seen by inotify and the poll it asks for


class AlwaysPoll:
    """The poll on every tick (the Celery executor follows its workers through it)."""

    listening = False

    def __init__(self):
        self._due = True
        self._next_safety = 0.0
        self.safety_poll = float(settings.SCHEDULER_SAFETY_POLL)  # the longest an idle engine goes unread

    def start(self, on_notice):
        self.on_notice = on_notice

    def stop(self):
        pass

    def own_write(self):
        """The engine wrote something its next poll must read (a run's end lets a backfill's next run go)."""
        self._due = True

    @contextmanager
    def quiet_write(self):
        """Around a write of the engine's that nothing needs to read (the lease's renewal): it must not wake the
        engine. Nothing to do here; the file watch would see it."""
        yield

    def worth_polling(self, force=False, next_tick_in=0.0) -> bool:
        """Called by the tick before its poll; True means poll now (the reason is forgotten). next_tick_in: seconds
        to the tick after this one. The safety poll runs on the last tick before it falls due, not the first
        after: the idle ticks fall on heartbeats, and waiting for the one past the setting read the database
        later than it promises (every 8 s for a 5 s setting with a 2 s heartbeat)."""
        now = time.monotonic()
        changed = self._changed()  # always asked, so that the watch's baseline moves with every poll
        due = changed or force or self._due or now + next_tick_in >= self._next_safety
        if due:
            self._due, self._next_safety = False, now + self.safety_poll
        return due

    def _changed(self) -> bool:
        return True


class DataVersionWatch(AlwaysPoll):
    """SQLite: `PRAGMA data_version` on the engine's connection changes when any other connection (a web
    process, the notices' pool) commits to the database file; the engine's own commits do not move it."""

    def __init__(self):
        super().__init__()
        self._seen = None

    def _changed(self) -> bool:
        raw = connection.connection
        if raw is None:
            return True  # no connection yet: the poll opens one
        # A new connection (after a database error) counts from its own start: compare only within one.
        try:
            seen = (id(raw), raw.execute("PRAGMA data_version").fetchone()[0])
        except Exception:  # a broken connection: the poll finds out and says so
            return True
        changed, self._seen = seen != self._seen, seen
        return changed


class FileWatch(DataVersionWatch):
    """SQLite on Linux: inotify on the database's folder wakes the loop and makes it poll when the database or its
    WAL file is written (by anyone, the engine too: at most one poll per SETTLE), so an idle engine need not wake
    every tick to ask. Without inotify it stays a DataVersionWatch, asking data_version every tick."""

    _MODIFY, _CREATE, _MOVED_TO = 0x2, 0x100, 0x80

    def __init__(self, path):
        super().__init__()
        self.path = os.path.abspath(path)
        self._stopping = threading.Event()
        self._thread = self._fd = None
        self._reading = threading.Lock()  # the inotify queue: read by the watch, drained after a quiet write

    def start(self, on_notice):
        super().start(on_notice)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
            if fd < 0 or libc.inotify_add_watch(fd, os.path.dirname(self.path).encode(),
                                                self._MODIFY | self._CREATE | self._MOVED_TO) < 0:
                raise OSError(ctypes.get_errno(), "inotify")
        except (OSError, AttributeError) as exc:
            log.info("No inotify (%s): the scheduler checks for changes every tick", exc)
            return
        self._fd, self.listening = fd, True
        self._waker = os.pipe()  # stop() writes to it: the watcher's wait ends at once
        self._thread = threading.Thread(target=self._watch, name="scheduler-filewatch", daemon=True)
        self._thread.start()

    def stop(self):
        self._stopping.set()
        if self._thread is not None:
            os.write(self._waker[1], b"x")
            self._thread.join(5)
            for fd in (self._fd, *self._waker):
                os.close(fd)

    @contextmanager
    def quiet_write(self):
        """inotify reports the write (its WAL frames) within the write's own system calls, so the events queued
        when it returns are this write's: drained under the lock the watch reads with, they never wake the loop
        (an idle engine's renewal woke it 50 ms later for a poll of its own). A commit of another process's
        whose events came in the same moment is caught by data_version right after; one whose commit shows
        later still, by the next safety poll."""
        if self._thread is None:
            yield
            return
        with self._reading:
            yield
            self._ours()
        if self._changed():
            self._due = True
            self.on_notice()

    def _watch(self):
        # No timeout: stop() ends the wait through the pipe, and a watch that woke every 5 s to look at
        # _stopping cost an idle engine a sixth of its CPU on a VM where every wake-up is dear.
        while not self._stopping.is_set():
            readable, _, _ = select.select([self._fd, self._waker[0]], [], [])
            if self._fd not in readable:
                continue
            with self._reading:
                if not self._ours():
                    continue
            # A file is written before its commit shows (SQLite updates the WAL index last): let the commit
            # finish, and gather what follows, then poll whatever data_version says. At most one poll per
            # SETTLE however busy the database is.
            self._stopping.wait(SETTLE)
            with self._reading:
                self._ours()
            self._due = True
            self.on_notice()

    def _ours(self) -> bool:
        """Read the pending inotify events; True if one is about the database or its WAL."""
        names = {os.path.basename(self.path) + suffix for suffix in ("", "-wal", "-journal")}
        try:
            events = os.read(self._fd, 65536)
        except BlockingIOError:
            return False
        offset, ours = 0, False
        while offset < len(events):  # struct inotify_event: wd, mask, cookie, len, then the name
            _wd, _mask, _cookie, size = struct.unpack_from("iIII", events, offset)
            name = events[offset + 16:offset + 16 + size].rstrip(b"\0").decode(errors="replace")
            ours = ours or name in names
            offset += 16 + size
        return ours


class NotifyListener(AlwaysPoll):
    """PostgreSQL: a thread of its own holds a second connection that LISTENs on CHANNEL; each notice marks
    the poll due and calls on_notice (which wakes the loop). While that connection is down, every tick polls.
    The thread sleeps on the connection's socket and on a pipe that stop() writes to, with no timeout: an idle
    listener never wakes by itself (it woke every 5 s, about a fifth of an idle engine's wake-ups)."""

    listening = True

    def __init__(self):
        super().__init__()
        self._stopping = threading.Event()
        self._up = False
        self._thread = None

    def start(self, on_notice):
        super().start(on_notice)
        self._waker = os.pipe()
        self._thread = threading.Thread(target=self._listen, name="scheduler-listen", daemon=True)
        self._thread.start()

    def stop(self):
        self._stopping.set()
        if self._thread is not None:
            os.write(self._waker[1], b"x")  # ends the listener's wait at once, whatever the database's state
            self._thread.join(5)
            if not self._thread.is_alive():
                for fd in self._waker:
                    os.close(fd)

    def _changed(self) -> bool:
        return not self._up  # notices may have been lost: poll

    def _listen(self):
        import psycopg

        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        while not self._stopping.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    self._up = True
                    self._notice()  # whatever was sent while not listening is read by the next poll
                    log.info("Listening for changes on PostgreSQL (%s)", CHANNEL)
                    # libpq directly: psycopg's notifies() wakes every 0.1 s, 0.1 % of a core when idle.
                    pgconn = listener.pgconn
                    while not self._stopping.is_set():
                        readable, _, _ = select.select([pgconn.socket, self._waker[0]], [], [])
                        if pgconn.socket in readable:
                            pgconn.consume_input()  # raises when the server is gone
                            if pgconn.notifies() is not None:
                                while pgconn.notifies() is not None:
                                    pass
                                self._notice()
            except Exception as exc:
                if self._up:
                    log.warning("Listening for changes failed (%s); polling every tick until it works again", exc)
                self._up = False
                self._notice()
                self._stopping.wait(RECONNECT_AFTER)
        self._up = False

    def _notice(self):
        self._due = True
        self.on_notice()


def watch_for(executor) -> AlwaysPoll:
    """The watch that suits the database, or AlwaysPoll for an executor that follows remote workers."""
    if getattr(executor, "runs_elsewhere", False):
        return AlwaysPoll()
    if connection.vendor == "postgresql":
        return NotifyListener()
    if connection.vendor == "sqlite":
        return FileWatch(connection.settings_dict["NAME"])
    return AlwaysPoll()
