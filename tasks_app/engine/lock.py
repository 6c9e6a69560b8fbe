"""Which scheduler leads: the lease row of models.SchedulerLease, taken and renewed by conditional UPDATEs whose
row count says who won, with the database's clock. A standby waits until the lease expires (three heartbeats
without renewal: its holder was killed, or its machine or network vanished) or is released (its holder stopped),
then takes it. A leader that could not renew for two heartbeats stops dispatching (it is fenced) until it renews;
one that finds another holder stops.

PostgreSQL: the lease alone. A session advisory lock would survive a vanished machine until TCP keepalive gives
up (hours); an expiry does not wait for anything. SQLite lives on one machine: an fcntl.flock next to the
database file decides (it dies with its holder at once, and cannot be lost while the holder lives, so a standby
takes over the moment the leader dies and no fencing is needed); the lease row is written all the same, as the
heartbeat that the pages, the watchdog and /healthz/scheduler read. They judge it by its `expires_at` alone, so
there it is renewed only every SQLITE_HEARTBEATS heartbeats (10 s by default: each renewal is a commit and a wake
of the engine's own file watch, most of an idle engine's CPU) and written to expire two heartbeats after the next
renewal is due: a killed SQLite scheduler shows as down within 14 s instead of 6."""
import fcntl
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import Error as DatabaseError  # also InterfaceError (a dropped connection)
from django.db import close_old_connections, connections
from django.db.models import Q
from django.db.models.functions import Now

from tasks_app.models import SchedulerLease
from tasks_app.models.scheduler import HEARTBEATS_PER_LEASE, LEASE_NAME, lease_length

log = logging.getLogger("SchedulerEngine")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SQLITE_HEARTBEATS = 5  # heartbeats between two renewals of the row under a file lock (SQLite)
# libpq's states, as psycopg.pq names them (ExecStatus.COMMAND_OK, TransactionStatus.IDLE): psycopg is imported
# only on PostgreSQL.
COMMAND_OK, IDLE = 1, 0


BOOTTIME = getattr(time, "CLOCK_BOOTTIME", None)


def clock() -> float:
    """The fence's clock: monotonic, and on Linux counting the time the machine was suspended too
    (CLOCK_BOOTTIME), so that a leader waking from a suspend knows at once that its lease has run out."""
    return time.clock_gettime(BOOTTIME) if BOOTTIME is not None else time.monotonic()


class LockHeld(RuntimeError):
    """Another scheduler leads; `holder` says who (pid, host, since) as far as it is known."""

    def __init__(self, holder: str):
        self.holder = holder
        super().__init__(f"another scheduler is already running on this database: {holder}")


class LeaseLost(RuntimeError):
    """Another scheduler took the lease while this one was starting."""


def lock_file_for(db_settings: dict) -> Path:
    """Next to the SQLite file, so every process using that file (whatever its CONF_DIR) sees the same lock."""
    name = str(db_settings.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return Path(settings.CONF_DIR) / "scheduler.lock"
    return Path(name + ".scheduler.lock")


def renewal(vendor: str, heartbeat: float) -> tuple[float, float]:
    """(seconds between two renewals, seconds each renewal makes the lease last) on this database. SQLite: the
    file lock leads, the row is the heartbeat that readers judge by its expiry (see the module's docstring)."""
    if vendor == "sqlite":
        return heartbeat * SQLITE_HEARTBEATS, heartbeat * (SQLITE_HEARTBEATS + 2)
    return heartbeat, heartbeat * HEARTBEATS_PER_LEASE


def current_holder() -> str:
    lease = SchedulerLease.objects.current()
    return lease.describe() if lease is not None and lease.holder else "holder unknown"


class SchedulerLock:
    """One engine's hold on the lease: acquire (or stand by), renew, know when it is fenced, release."""

    def __init__(self, worker: str | None = None, alias: str = "default"):
        self.alias = alias
        self.vendor = connections[alias].vendor
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.token = uuid.uuid4().hex  # this engine's claim: a restarted process with the same pid is another
        self.heartbeat = float(settings.SCHEDULER_HEARTBEAT_SECONDS)
        self.renew_every, self.lasts = renewal(self.vendor, self.heartbeat)
        self._renew_sql = None  # the renewal's SQL on PostgreSQL or SQLite, built once
        self.valid_until = 0.0  # clock(): the lease surely lasts until then
        self.previous_seen = None  # the last heartbeat of the scheduler this one took over from
        self.held = False
        self._fd = None
        self.path = None

    # Taking it.

    def acquire(self, wait: bool = False, poll: float | None = None, give_up=None) -> None:
        """Take the lease, or raise LockHeld (wait=False). With wait=True (a standby), try again every `poll`
        seconds (half a heartbeat) until it is taken or give_up() says to stop waiting (a SIGTERM meanwhile)."""
        poll = poll if poll is not None else max(0.1, self.heartbeat / 2)
        announced = None
        while True:
            try:
                self._try()
                return
            except LockHeld as held:
                if not wait or (give_up is not None and give_up()):
                    raise
                if held.holder != announced:
                    log.info("Standby: the scheduler %s leads; taking over when it stops or misses its "
                             "heartbeats for %.0f s", held.holder, lease_length().total_seconds())
                    announced = held.holder
            except DatabaseError as exc:
                if not wait:
                    raise
                if announced != "database":
                    log.warning("Standby: the database cannot be reached (%s); trying again", exc)
                    announced = "database"
                close_old_connections()
            deadline = time.monotonic() + poll
            while time.monotonic() < deadline and not (give_up is not None and give_up()):
                time.sleep(min(0.1, poll))

    def _try(self):
        if self.vendor == "sqlite":
            self._try_file()
            try:
                self._take(unconditionally=True)
            except BaseException:
                self._unlock_file()
                raise
        else:
            self._take(unconditionally=False)

    def _try_file(self):
        self.path = lock_file_for(connections[self.alias].settings_dict)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(current_holder()) from None
        self._fd = fd

    def _take(self, unconditionally: bool):
        SchedulerLease.objects.bulk_create(  # the row, once: expired, so that whoever comes first takes it
            [SchedulerLease(name=LEASE_NAME, acquired_at=EPOCH, renewed_at=EPOCH, expires_at=EPOCH)],
            ignore_conflicts=True)
        before = SchedulerLease.objects.filter(name=LEASE_NAME).values("holder", "renewed_at").first()
        began = clock()
        rows = SchedulerLease.objects.filter(name=LEASE_NAME)
        if not unconditionally:
            rows = rows.filter(Q(expires_at__lte=Now()) | Q(released_at__isnull=False) | Q(token=self.token))
        won = rows.update(holder=self.worker[:100], host=socket.gethostname()[:255], pid=os.getpid(),
                          token=self.token, acquired_at=Now(), renewed_at=Now(),
                          expires_at=Now() + timedelta(seconds=self.lasts), released_at=None)
        if not won:
            raise LockHeld(current_holder())
        self.valid_until = began + self.lasts
        self.previous_seen = before["renewed_at"] if before and before["holder"] else None
        self.held = True
        log.info("This scheduler (%s) leads: lease taken", self.worker)

    # Keeping it.

    def renew(self) -> bool:
        """The heartbeat: extend the lease. False if another scheduler holds it now (this one must stop).
        Raises DatabaseError when the database cannot be reached (the lease runs out meanwhile)."""
        began = clock()
        if self.vendor == "postgresql":
            renewed = self._renew_plainly()
        elif self.vendor == "sqlite":
            renewed = self._renew_in_sqlite()
        else:
            renewed = SchedulerLease.objects.filter(name=LEASE_NAME, token=self.token,
                                                    released_at__isnull=True).update(
                renewed_at=Now(), expires_at=Now() + timedelta(seconds=self.lasts))
        if renewed:
            self.valid_until = began + self.lasts
        return bool(renewed)

    def _renew_plainly(self) -> int:
        """PostgreSQL, where the renewal is the lease itself, every heartbeat: one parameterised UPDATE on the
        held connection (autocommit: one round trip), handed to libpq as it stands. An idle engine's CPU is
        mostly this and its wake-ups, and after two seconds asleep the layers above libpq are cold: measured
        2 s apart, Django's cursor cost 0.6-1.8 ms of CPU a renewal, psycopg's own cursor 0.3-0.6 ms, libpq's
        exec_params 0.08 ms (0.03 ms each warm, in a loop). psycopg keeps no state of its own that an
        autocommitted statement on an idle connection changes (it asks libpq for the transaction status
        whenever it needs it); any other state, such as inside an atomic block, goes through the cursor."""
        db = connections[self.alias]
        with db.wrap_database_errors:  # psycopg's errors as Django's; a broken connection is closed next round
            db.ensure_connection()
            raw = db.connection
            if not raw.autocommit or raw.info.transaction_status != IDLE:
                return self._renew_through_cursor(db)
            if self._renew_sql is None:
                self._renew_sql = _renewal_sql(db, "$1", "$2", "$3").encode()
            result = raw.pgconn.exec_params(
                self._renew_sql, [repr(self.lasts).encode(), LEASE_NAME.encode(), self.token.encode()])
            if result.status != COMMAND_OK:
                from psycopg import errors as psycopg_errors

                raise psycopg_errors.error_from_result(result, encoding=raw.info.encoding)
            return int(result.command_tuples or 0)

    def _renew_in_sqlite(self) -> int:
        """SQLite: the same UPDATE through the sqlite3 module on the held connection (autocommit: it takes the
        write lock and commits by itself, under the connection's busy timeout, as the ORM's statement did). The
        renewal is an idle engine's one write every 10 s, and ten seconds asleep leave the ORM's layers cold:
        on an Intel VM its update cost 8-10 ms of CPU a renewal there, most of an idle engine's. The values are
        those Django's SQLite backend writes for Now(): the process's clock, which is the database's."""
        db = connections[self.alias]
        with db.wrap_database_errors:
            db.ensure_connection()
            if db.in_atomic_block or not db.get_autocommit():
                return self._renew_through_cursor(db)
            if self._renew_sql is None:
                self._renew_sql = _renewal_sql_sqlite(db)
            lasts = f"+{self.lasts!r} seconds"
            return db.connection.execute(self._renew_sql, (lasts, LEASE_NAME, self.token)).rowcount

    def _renew_through_cursor(self, db) -> int:
        if db.vendor == "sqlite":
            return SchedulerLease.objects.using(self.alias).filter(
                name=LEASE_NAME, token=self.token, released_at__isnull=True).update(
                renewed_at=Now(), expires_at=Now() + timedelta(seconds=self.lasts))
        with db.cursor() as cursor:
            cursor.execute(_renewal_sql(db, "%s", "%s", "%s"), [self.lasts, LEASE_NAME, self.token])
            return cursor.rowcount

    @contextmanager
    def kept_alive(self):
        """Renew the lease from a thread of its own while the caller works without renewing it: a start with
        thousands of tasks takes longer than a lease, and a standby must not take over meanwhile; a stopping
        leader's runs get their grace. Under a file lock (SQLite) too: there the lease row is the heartbeat that
        the pages and /healthz/scheduler read."""
        stop = threading.Event()

        def keep():
            try:
                while not stop.wait(min(self.heartbeat, self.renew_every)):
                    try:
                        self.renew()
                    except DatabaseError as exc:
                        log.warning("Could not renew the scheduler lease while starting (%s)", exc)
            finally:
                connections.close_all()  # this thread's own connections

        keeper = threading.Thread(target=keep, name="lease-keeper", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            stop.set()
            keeper.join()

    def current_holder_safely(self) -> str:
        try:
            return current_holder()
        except DatabaseError:
            return "holder unknown"

    def fenced(self) -> bool:
        """True when the lease may have run out: no new work until a renewal succeeds. One heartbeat of margin,
        for a transaction that began just before the limit and commits after it. A flock cannot run out."""
        if self._fd is not None:
            return False
        return clock() >= self.valid_until - self.heartbeat

    # Letting it go.

    def release(self) -> None:
        """Stopping: mark the lease released so that a standby takes over at its next look."""
        if self.held:
            self.held = False
            try:
                close_old_connections()
                SchedulerLease.objects.filter(name=LEASE_NAME, token=self.token).update(
                    released_at=Now(), renewed_at=Now(), expires_at=Now())
            except DatabaseError as exc:
                log.warning("Could not release the scheduler lease (%s): a standby takes over when it expires", exc)
        self._unlock_file()

    def _unlock_file(self):
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _renewal_sql(db, lasts, name, token) -> str:
    """PostgreSQL's renewal of the lease, with the placeholders of the caller's layer (libpq's $n, DB-API's %s)."""
    table = db.ops.quote_name(SchedulerLease._meta.db_table)
    return (f"UPDATE {table} SET renewed_at = STATEMENT_TIMESTAMP(), "
            f"expires_at = STATEMENT_TIMESTAMP() + {lasts} * INTERVAL '1 second' "
            f"WHERE name = {name} AND token = {token} AND released_at IS NULL")


def _renewal_sql_sqlite(db) -> str:
    """SQLite's renewal: times as Django's backend writes Now() (UTC, "YYYY-MM-DD HH:MM:SS.fff"), the lease's
    length as a modifier ("+14.0 seconds")."""
    table = db.ops.quote_name(SchedulerLease._meta.db_table)
    now = "STRFTIME('%Y-%m-%d %H:%M:%f', 'now'"
    return (f"UPDATE {table} SET renewed_at = {now}), expires_at = {now}, ?) "
            "WHERE name = ? AND token = ? AND released_at IS NULL")
