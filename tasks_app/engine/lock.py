"""One scheduler per database: a lock that dies with its holder. SQLite: fcntl.flock on a file next to the
database file. PostgreSQL: pg_try_advisory_lock on a connection of its own (Django's may be closed and
reopened after database trouble, which would drop the lock)."""
import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from django.conf import settings
from django.db import Error as DatabaseError  # also InterfaceError (a dropped connection)
from django.db import connections

log = logging.getLogger("SchedulerEngine")

# pg advisory lock key: any constant; locks are per database, so test and production databases differ.
ADVISORY_KEY = 0x5C4ED01E
APPLICATION_NAME = "runscheduler"


class LockHeld(RuntimeError):
    """Another scheduler holds the lock; `holder` says who (pid, host, since) as far as it is known."""

    def __init__(self, holder: str):
        self.holder = holder
        super().__init__(f"another scheduler is already running on this database: {holder}")


def holder_description() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}


def describe_holder(info: dict) -> str:
    if not info:
        return "holder unknown"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} since {info.get('since', '?')}"


def lock_file_for(db_settings: dict) -> Path:
    """Next to the SQLite file, so every process using that file (whatever its CONF_DIR) sees the same lock."""
    name = str(db_settings.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return Path(settings.CONF_DIR) / "scheduler.lock"
    return Path(name + ".scheduler.lock")


class SchedulerLock:
    def __init__(self, alias: str = "default"):
        self.alias = alias
        self.vendor = connections[alias].vendor
        self._fd = None
        self._pg = None
        self.path = None

    def acquire(self, wait: bool = False, poll: float = 1.0, give_up=None) -> None:
        """Take the lock, or raise LockHeld (wait=False). With wait=True, retry until it is free or
        give_up() says to stop waiting (a SIGTERM meanwhile)."""
        announced = False
        while True:
            try:
                self._try()
                return
            except LockHeld as held:
                if not wait or (give_up is not None and give_up()):
                    raise
                if not announced:
                    log.info("Waiting for the scheduler lock: %s", held.holder)
                    announced = True
                time.sleep(poll)

    def _try(self):
        if self.vendor == "postgresql":
            self._try_pg()
        else:
            self._try_file()

    def _try_file(self):
        self.path = lock_file_for(connections[self.alias].settings_dict)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                info = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                info = {}
            os.close(fd)
            raise LockHeld(describe_holder(info)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder_description()).encode(), 0)
        self._fd = fd

    def _try_pg(self):
        conn = connections.create_connection(self.alias)
        conn.inc_thread_sharing()  # taken by start(), checked and released by the loop's thread
        conn.connect()
        with conn.cursor() as cur:
            me = holder_description()
            cur.execute("SET application_name = %s", [f"{APPLICATION_NAME} {describe_holder(me)}"[:63]])
            cur.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_KEY])
            if cur.fetchone()[0]:
                self._pg = conn
                return
            cur.execute(
                "SELECT a.application_name, a.client_addr, a.pid FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = %s "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                [ADVISORY_KEY],
            )
            row = cur.fetchone()
        conn.close()
        if row and row[0].startswith(APPLICATION_NAME):
            raise LockHeld(row[0][len(APPLICATION_NAME) + 1:])
        raise LockHeld(f"database session pid {row[2]} from {row[1] or 'local'}" if row else "holder unknown")

    def still_held(self) -> bool:
        """False if the database dropped our session (and so the advisory lock). Files cannot be lost."""
        if self._pg is None:
            return self._fd is not None
        try:
            with self._pg.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                            "AND classid = 0 AND objid = %s AND granted", [ADVISORY_KEY])
                return cur.fetchone() is not None
        except DatabaseError:
            return False

    def reacquire(self) -> None:
        """After the database restarted: a new session, the lock again (LockHeld if someone took it)."""
        self.release()
        self._try()

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._pg is not None:
            try:
                self._pg.close()  # ending the session releases the advisory lock
            except DatabaseError:
                pass
            self._pg = None
