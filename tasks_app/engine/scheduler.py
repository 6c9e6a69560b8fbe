"""SchedulerEngine: the scheduling engine run by `manage.py runscheduler` (one per database). It wires the
parts and runs the loop; the parts hold the state and the rules:

  Timetable      APScheduler jobs in step with the tasks, and the fires they produce (timetable.py)
  RunRegistry    the runs in hand: running, waiting behind another, stopping, held until their slot
  Starter        start requests and queued runs -> executions, by the rules of policy.py (starts.py)
  Dispatcher     a committed plan -> the executor; the executor's reports back (dispatch.py)
  EndRecorder    how runs ended -> the database, retries, waiting runs, notices (endings.py)
  Shutdown       how runs end when the engine stops (shutdown.py)

One thread does all scheduling and database work: it sleeps until the next cron slot, the next tick
(settings.SCHEDULER_TICK, 0.5 s; when idle with a change listener up, the last heartbeat within
SCHEDULER_SAFETY_POLL, 10 s; wakeups.py) or a notified change, then
fires due jobs, claims queued runs (run now, retries), notices
configuration changes (the ConfigVersion marker) and stop requests, and records runs that ended. Scripts
run in the executor's threads, which only report back. Statuses and the commits a run costs: bookkeeping.py."""
import logging
import os
import socket
import threading
import time

from django.conf import settings
from django.db import Error as DatabaseError  # also InterfaceError: a connection the server dropped
from django.db import close_old_connections, connection, transaction
from django.db.backends.signals import connection_created
from django.utils import timezone

from tasks_app.alerts import sender as notice_sender
from tasks_app.alerts.overrun import OverrunWatch

from . import bookkeeping as bk
from . import backfills, policy, recovery, wakeups
from .confinement import warm_up_fork_server
from .dispatch import Dispatcher
from .endings import EndRecorder
from .journal import PidJournal
from .lock import LeaseLost, SchedulerLock
from .notify import notify_execution_later
from .registry import RunRegistry
from .shutdown import Shutdown
from .starts import Starter
from .timetable import Timetable
from .trouble import DatabaseTrouble

log = logging.getLogger("SchedulerEngine")

# A slot's claim is written this long before the slot and its process started at the slot, so the
# database work is not part of a run's lateness: on a busy 2-core machine, 100 runs due together take up to
# 0.2 s to write and prepare.
AHEAD = 0.5  # seconds
FIRST_BATCH = 8  # starts in the first transaction of a burst (about a pool's worth)
BATCH = 200
FOREVER = float("inf")
# The heartbeat and the idle tick fall due within microseconds of each other: one wake-up serves both.
SOON = 0.05  # seconds


class SchedulerEngine:
    def __init__(self, *, executor=None, worker=None, tick=None, wait_for_lock=False, db_busy_timeout=None,
                 stop_grace=None):
        if executor is None:
            from .executor import make_executor

            executor = make_executor()
        self.executor = executor
        # Where the runs it starts run: here, or ("") on the Celery worker that claims each one.
        self.node = None if not executor.runs_elsewhere else ""
        self.worker = (worker or f"{socket.gethostname()}:{os.getpid()}")[:100]
        self.tick = float(tick if tick is not None else settings.SCHEDULER_TICK)
        self.wait_for_lock = wait_for_lock
        self.db_busy_timeout = (
            db_busy_timeout if db_busy_timeout is not None else settings.SCHEDULER_DB_BUSY_TIMEOUT)
        self.stop_grace = float(stop_grace if stop_grace is not None else settings.SCHEDULER_STOP_GRACE)
        self.wake = threading.Event()
        self.lock = SchedulerLock(self.worker)
        self.heartbeat = self.lock.renew_every  # seconds between renewals of the lease
        self.exit_code = 0
        self.started = False
        self.ready = threading.Event()
        self._stop_requested = False
        # The parts. Those that need the pid journal are built by start(), after crash recovery.
        self.registry = RunRegistry()
        self.trouble = DatabaseTrouble()
        self.timetable = Timetable(self.wake, tick=self.tick, ahead=AHEAD)
        self.starter = Starter(self.registry, self.worker, self.node)
        self.overruns = OverrunWatch()
        self.changes = wakeups.watch_for(executor)  # whether a tick's poll is worth running
        self.journal = self.dispatcher = self.endings = self.closing = None
        # The loop's own state (engine thread only).
        self.starts = []  # StartRequests waiting for the next batch (missed slots, chains)
        self.claims = []  # ids of queued executions to claim
        self.chain_from = []  # task_ids that just succeeded: their chain dependents may start
        self.retry_at = FOREVER  # wall clock: when the earliest waiting retry may start
        self._next_tick = 0.0  # monotonic
        self._next_heartbeat = 0.0
        self._fenced = False

    # Lifecycle.

    def start(self):
        """Lead (a standby waits here with wait_for_lock), recover from the previous scheduler, schedule every
        task. Raises lock.LockHeld."""
        began = time.monotonic()
        self.lock.acquire(wait=self.wait_for_lock, give_up=lambda: self._stop_requested)
        try:
            with self.lock.kept_alive():
                self._start(began)
        except BaseException:
            self.lock.release()
            raise

    def _start(self, began):
        connection_created.connect(self._tune_connection)
        if connection.connection is not None:
            self._tune_connection(connection.vendor, connection)
        close_old_connections()
        where = (f"{self.executor.max_workers} thread(s)" if not self.executor.runs_elsewhere
                 else f"Celery workers through {settings.CELERY_BROKER_URL.split('@')[-1]}")
        log.info("Scheduler engine starting (worker %s, executor %s, %s, tick %.2f s)", self.worker,
                 type(self.executor).__name__, where, self.tick)
        # The previous leader's last heartbeat: slots after it were missed (unless its job store says better).
        previous_seen = self.lock.previous_seen
        lost = recovery.recover_lost(timezone.now(), runs_elsewhere=self.executor.runs_elsewhere)
        self._wire(PidJournal(self.worker))
        if self.executor.runs_elsewhere:
            for execution in recovery.adopt_running(self.worker):
                self.dispatcher.adopt(execution)
        for execution in lost:
            notify_execution_later(execution)
        notice_sender.kick()  # notices a previous process left pending
        timetable = self.timetable
        timetable.start()
        timetable.read_tasks(bk.poll(self.worker)[0])
        if not self.executor.runs_elsewhere:
            warm_up_fork_server()
        now = timezone.now()
        self.starts = timetable.missed_requests(now, previous_seen)
        added, removed = timetable.schedule_all(now)
        self._renew_while_starting()
        self.started = True
        self._next_heartbeat = time.monotonic() + self.heartbeat
        self.changes.start(on_notice=self._poll_soon)
        log.info("Scheduler engine started in %.2f s: %d task(s), %d scheduled (%d job(s) written, %d removed), "
                 "%d run(s) found lost, %d task(s) with missed slots", time.monotonic() - began,
                 len(timetable.rows), timetable.job_count, added, removed, len(lost), len(self.starts))
        self.ready.set()

    def _wire(self, journal):
        self.journal = journal
        self.dispatcher = Dispatcher(self.registry, self.executor, journal, self.wake)
        self.endings = EndRecorder(self.registry, self.dispatcher, self.trouble, self.worker, self.node)
        self.closing = Shutdown(registry=self.registry, dispatcher=self.dispatcher, endings=self.endings,
                                executor=self.executor, trouble=self.trouble, worker=self.worker, tick=self.tick,
                                grace=self.stop_grace)

    def _tune_connection(self, sender=None, connection=None, **kwargs):
        """The scheduler waits at most db_busy_timeout s for a locked SQLite database, then retries on a
        later tick: a long write elsewhere must not freeze scheduling for the default 30 s."""
        if connection is not None and connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {int(self.db_busy_timeout * 1000)}")

    def request_stop(self):
        """Safe from a signal handler or another thread."""
        self._stop_requested = True
        self.wake.set()

    def run(self, max_seconds=None):
        """start() and loop until request_stop() (or max_seconds), then shut down. Returns the exit code."""
        if not self.started:
            self.start()
        deadline = time.monotonic() + max_seconds if max_seconds else FOREVER
        try:
            while not self._stop_requested and time.monotonic() < deadline:
                self.step(max(0.0, deadline - time.monotonic()))
        finally:
            self.shutdown()
        return self.exit_code

    def shutdown(self):
        """No new work; running executions get stop_grace seconds, then are stopped; every end is recorded."""
        if not self.started:
            return
        self.started = False
        log.info("Scheduler engine stopping: %d run(s) in progress, up to %s s to finish",
                 len(self.registry.running), self.stop_grace)
        self.timetable.stop()
        self.changes.stop()
        self.dispatcher.close()  # no held run starts any more: each ends recorded as stopped by the shutdown
        # The lease is kept while the runs in hand finish: a standby taking over now would record them lost.
        with self.lock.kept_alive():
            all_recorded = self.closing.finish_runs()
            self.timetable.join_housekeeping(30)
        self.journal.close(remove=all_recorded)
        connection_created.disconnect(self._tune_connection)
        self.lock.release()
        try:
            connection.close()
        except Exception:
            pass
        log.info("Scheduler engine stopped")

    # The loop.

    def step(self, max_wait=FOREVER):
        """One round: start held runs whose slot has come, record ended runs, tick, claim the slots of the
        next moments, start what is due; then sleep until the next thing to do (or max_wait, or a wake-up)."""
        try:
            self._round()
        except Exception:  # the loop must outlive any bug; the next round tries again
            log.exception("Scheduler loop error; carrying on")
            self.timetable.look_again_in(self.tick)
        deadline = time.monotonic() + max_wait
        while True:  # (the runs held for a slot are handed over at their slot by the dispatcher's slot watch)
            wait = min(self._next_heartbeat - time.monotonic(), self._until_work(deadline))
            woken = False
            if wait > 0 and not self._stop_requested:
                woken = self.wake.wait(wait)
            self.wake.clear()
            if woken or not self._only_the_heartbeat_is_due(deadline) or not self._heartbeat():
                return

    def _until_work(self, deadline: float) -> float:
        """Seconds until something other than the heartbeat is to be done (a fire, a tick, a retry, ends to record,
        the caller's deadline)."""
        now, mono = time.time(), time.monotonic()
        return min(self.timetable.fire_at - AHEAD - now, self._next_tick - mono, self.retry_at - now,
                   self.endings.due_in(), deadline - mono)

    def _only_the_heartbeat_is_due(self, deadline: float) -> bool:
        """An idle engine (no run in hand, held or to start) woken by its heartbeat alone: the round would find
        nothing else to do. On PostgreSQL four wake-ups in five are such (a 2 s heartbeat, a 10 s safety poll)."""
        return (not self._stop_requested and time.monotonic() + SOON >= self._next_heartbeat
                and self._until_work(deadline) > SOON and not self.timetable.scheduler.due
                and not (self.registry.running or self.claims or self.starts or self.chain_from))

    def _heartbeat(self) -> bool:
        """Renew the lease without the round, and True to sleep again: an idle engine's CPU is its wake-ups, and
        the round's other work costs more than the renewal once the thread has slept (more on a VM whose every
        wake-up is dear). False, and the round runs, if the renewal failed or found the lease lost or fenced."""
        renewed_before = self.lock.valid_until
        return self._leading() and self.lock.valid_until != renewed_before

    def _round(self):
        # The engine keeps its connection (CONN_MAX_AGE 0 is for requests): opening one every round cost more
        # than an idle tick's work, and SQLite's data_version is counted per connection. A broken one is closed.
        connection.close_at = None
        close_old_connections()
        if not self._leading():
            return
        self.dispatcher.release_held()
        self._followed(self.endings.record(start_waiting=self.started, gather=True))
        if time.monotonic() + SOON >= self._next_tick or time.time() >= self.retry_at:
            # Listening for changes, an idle engine only ticks for its heartbeat and the safety poll.
            idle = self.changes.listening and not self.registry.running
            every = self.tick
            if idle:
                every = self._on_a_heartbeat(min(self.changes.safety_poll, max(self.tick, self.timetable.resync_in())))
            self._next_tick = time.monotonic() + every
            self._tick(every)
        deferred = {}
        if self.timetable.is_due():
            try:
                deferred = self.timetable.process_due()
            except DatabaseError as exc:
                # The job store was not updated for these fires: they come again on the next round.
                self.timetable.drop_fires()
                self.trouble.failed("reading due jobs", exc)
                return
            self.trouble.ok("reading due jobs")
        self._flush(deferred)
        self.dispatcher.release_held()
        self.dispatcher.prepare_held()

    def _on_a_heartbeat(self, every: float) -> float:
        """An idle tick moved earlier onto the last heartbeat within `every` (every 4 s instead of 5 with a 2 s
        heartbeat): one wake-up serves both, and an idle engine's CPU is mostly its wake-ups."""
        ahead = self._next_heartbeat - time.monotonic()
        if 0 < ahead <= every:
            aligned = ahead + (every - ahead) // self.heartbeat * self.heartbeat
            if aligned >= every / 2:
                return aligned
        return every

    def _flush(self, deferred):
        """Start what is due, in batches: a small first batch so the first runs start at their slot even in a
        burst, then larger ones. Each batch is one transaction holding its starts
        and its jobs' new next run times, so a failed batch leaves its fires due (they fire again on the
        next round) and loses nothing."""
        timetable = self.timetable
        starts, self.starts = self.starts + timetable.chain_requests(self.chain_from), []
        claims, self.claims, self.chain_from = self.claims, [], []
        requests = timetable.take_fires(timezone.now()) + starts
        if not (deferred or requests or claims):
            return
        first = FIRST_BATCH
        batches = [requests[:first]] + [requests[i:i + BATCH] for i in range(first, len(requests), BATCH)]
        for number, batch in enumerate(batches):
            # The runs of earlier batches claimed for a slot still to come are handed over at the slot by the
            # dispatcher's slot watch, whatever this thread is doing then (writing this batch, say).
            fired = [deferred.pop(r.task_id) for r in batch if r.fired and r.task_id in deferred]
            if number == 0:
                fired += deferred.values()  # the engine's own jobs
            try:
                with transaction.atomic():
                    timetable.store.write_deferred(fired)
                    plan = self.starter.plan(batch, claims if number == 0 else (), timezone.now())
            except DatabaseError as exc:
                # Nothing of this batch was written: its fires are still due in the job store, its queued
                # runs still queued; other starts are kept for the next round.
                self.trouble.failed("starting runs", exc)
                self.starts = [r for later in batches[number:] for r in later if not r.fired] + self.starts
                timetable.look_again_in(self.tick)
                timetable.drop_engine_jobs()
                return
            self.dispatcher.carry_out(plan)
            self._followed(plan)
        self.trouble.ok("starting runs")
        timetable.run_engine_jobs()

    def _poll_soon(self):
        """A change was notified (called from the listening thread): tick now."""
        self._next_tick = 0.0
        self.wake.set()

    def _followed(self, plan):
        """What a carried-out plan leaves for the next rounds: chains to consider, the next retry's time."""
        if plan is not None:
            self.changes.own_write()  # e.g. a run's end lets a backfill's next run go: the next tick polls
            self.chain_from.extend(plan.chain_from)
            self.retry_at = min(self.retry_at, plan.retry_at)

    def _tick(self, every: float):
        """The poll (when something may have changed, or the safety poll would fall due before the next tick, in
        `every` seconds), overruns."""
        force = time.time() >= self.retry_at or not self.timetable.resync_in()
        if self.changes.worth_polling(force=force, next_tick_in=every) and not self._poll():
            return
        # An executor that reports each start (on_start) lets a run waiting for a worker count as a missed slot.
        started = self.journal.started if getattr(self.executor, "reports_starts", False) else (lambda pk: True)
        self.overruns.check(self.registry.running, timezone.now(), started=started)

    def _poll(self) -> bool:
        """Configuration marker, queued runs to claim, stop requests. False if the database failed."""
        try:
            version, queued, stops, held = bk.poll(self.worker)
            if held and backfills.release_held_runs():
                version, queued, stops, held = bk.poll(self.worker)  # the runs let go start in this tick
            self.timetable.follow(version)
            self.claims, self.retry_at = policy.due_claims(queued, timezone.now())
            self.dispatcher.stop_requested(stops)
            self.executor.follow()
        except DatabaseError as exc:
            self.changes.own_write()  # poll again next tick
            self.trouble.failed("polling", exc)
            return False
        self.trouble.ok("polling")
        return True

    # Leading.

    def _renew_while_starting(self):
        """After the start (during which lock.kept_alive renewed the lease): still the leader?"""
        if not self.lock.renew():
            raise LeaseLost(f"another scheduler took the lease while this one was starting: "
                            f"{self.lock.current_holder_safely()}")

    def _leading(self) -> bool:
        """The heartbeat: renew the lease when one is due (or while fenced). False while this scheduler may not
        start anything: its lease may have run out (fenced), or another scheduler holds it (then it stops)."""
        if time.monotonic() + SOON >= self._next_heartbeat or self.lock.fenced():
            self._next_heartbeat = time.monotonic() + self.heartbeat
            try:
                with self.changes.quiet_write():  # the engine's own heartbeat is no change to look for
                    renewed = self.lock.renew()
            except DatabaseError as exc:
                self.trouble.failed("renewing the scheduler lease", exc)
            else:
                self.trouble.ok("renewing the scheduler lease")
                if not renewed:
                    log.error("Another scheduler has taken the lease (%s): this one stops",
                              self.lock.current_holder_safely())
                    self.exit_code = 1
                    self.request_stop()
                    return False
        fenced = self.lock.fenced()
        if fenced != self._fenced:
            self._fenced = fenced
            if fenced:
                log.warning("The scheduler lease could not be renewed for %.0f s: no run starts until it is",
                            2 * self.heartbeat)
            else:
                log.info("Scheduler lease renewed: carrying on")
        return not fenced
