"""SchedulerEngine: the document's scheduling engine, run by `manage.py runscheduler` (one per database).

One thread does all scheduling and database work: it sleeps until the next cron slot or the next tick
(settings.SCHEDULER_TICK, 0.5 s), then fires due APScheduler jobs (Django job store, CronSlotTrigger),
claims queued runs (run now, retries), notices configuration changes (the ConfigVersion marker) and stop
requests, and records runs that ended. Scripts run in the executor's threads, which only report back.
Statuses and what each run costs in commits: see bookkeeping.py."""
import logging
import os
import queue
import socket
import threading
import time
from datetime import timezone as dt_timezone

from apscheduler.jobstores.base import ConflictingIdError
from django.conf import settings
from django.db import Error as DatabaseError  # also InterfaceError: a connection the server dropped
from django.db import close_old_connections, connection, transaction
from django.db.backends.signals import connection_created
from django.utils import timezone

from tasks_app.models import Trigger

from . import bookkeeping as bk
from . import jobs, policy, recovery
from .apsched import EngineScheduler, FireCollector
from .dispatch import DispatchMixin, StartRequest
from .housekeeping import HOUSEKEEPING_JOB_ID, HOUSEKEEPING_SCHEDULE, run_in_background
from .jobstore import ENGINE_JOB_PREFIX, EngineJobStore
from .journal import PidJournal
from .lock import SchedulerLock
from .shutdown import ShutdownMixin
from .notify import notify_execution_later
from .trigger import CronSlotTrigger

log = logging.getLogger("SchedulerEngine")
slog = logging.getLogger("Scheduler")

HEARTBEAT_EVERY = 5.0  # seconds
# A slot's claim is written this long before the slot and its process started at the slot, so the
# database work is not part of a run's lateness.
AHEAD = 0.1  # seconds
FIRST_BATCH = 8  # starts in the first transaction of a burst (about a pool's worth)
BATCH = 200
FOREVER = float("inf")


class SchedulerEngine(DispatchMixin, ShutdownMixin):
    def __init__(self, *, executor=None, worker=None, tick=None, wait_for_lock=False, db_busy_timeout=None,
                 stop_grace=None):
        if executor is None:
            from .executor import LocalExecutor

            executor = LocalExecutor(max_workers=settings.SCHEDULER_MAX_WORKERS)
        self.executor = executor
        self.worker = (worker or f"{socket.gethostname()}:{os.getpid()}")[:100]
        self.tick = float(tick if tick is not None else settings.SCHEDULER_TICK)
        self.wait_for_lock = wait_for_lock
        self.db_busy_timeout = (
            db_busy_timeout if db_busy_timeout is not None else settings.SCHEDULER_DB_BUSY_TIMEOUT)
        self.stop_grace = float(stop_grace if stop_grace is not None else settings.SCHEDULER_STOP_GRACE)
        self.resync_every = float(settings.SCHEDULER_RESYNC_INTERVAL)
        self.wake = threading.Event()
        self.lock = SchedulerLock()
        self.scheduler = None
        self.store = None
        self.sync = None
        self.exit_code = 0
        self.started = False
        self.ready = threading.Event()
        self._stop_requested = False
        # Runtime state, touched only by the engine thread.
        self.rows = {}  # task pk -> jobs.TaskRow
        self.dependents = {}  # task_id -> chain task pks
        self.version = None
        self.running = {}  # execution id -> TaskExecution (task loaded)
        self.by_task = {}  # task pk -> execution ids running
        self.waiting = {}  # task pk -> TaskExecution held back by task_overlap "queue"
        self.stopping = set()  # execution ids asked to stop
        self.own_stops = {}  # execution id -> "scheduler" for stops the engine itself decided
        self.finished = queue.SimpleQueue()  # (execution, RunResult) from executor threads
        self.unrecorded = []  # results whose commit failed: tried again on the next step
        self.fires = []  # (job, slots) collected while APScheduler processes due jobs
        self.starts = []  # StartRequests waiting for the next batch (missed slots, chains)
        self.claims = []  # ids of queued executions to claim
        self.chain_from = []  # task_ids that just succeeded: their chain dependents may start
        self.engine_due = []
        self.held = []  # heap of (slot timestamp, execution id, execution): claimed, started at the slot
        self.retry_at = FOREVER  # wall clock: when the earliest waiting retry may start
        self._fire_at = 0.0  # wall clock: the next slot of any job
        self._next_tick = 0.0  # monotonic
        self._next_heartbeat = 0.0
        self._next_resync = 0.0
        self._db_failing = set()
        self._housekeeping = None
        self._started_at = None
        self.journal = None

    # Lifecycle.

    def start(self):
        """Take the lock, recover from a previous scheduler, schedule every task. Raises lock.LockHeld."""
        began = time.monotonic()
        self.lock.acquire(wait=self.wait_for_lock, give_up=lambda: self._stop_requested)
        try:
            self._start(began)
        except BaseException:
            self.lock.release()
            raise

    def _start(self, began):
        self._started_at = timezone.now()
        connection_created.connect(self._tune_connection)
        if connection.connection is not None:
            self._tune_connection(connection.vendor, connection)
        close_old_connections()
        log.info("Scheduler engine starting (worker %s, executor %s, %s worker(s), tick %.2f s)", self.worker,
                 type(self.executor).__name__, getattr(self.executor, "max_workers", "?"), self.tick)
        previous = recovery.read_heartbeat()
        lost = recovery.recover_lost(timezone.now())
        self.journal = PidJournal(self.worker)
        for execution in lost:
            notify_execution_later(execution)
        self.scheduler = EngineScheduler(
            self.wake, timezone=dt_timezone.utc, jobstore_retry_interval=self.tick,
            job_defaults={"coalesce": False, "misfire_grace_time": None, "max_instances": 1_000_000},
        )
        self.store = EngineJobStore()
        self.scheduler.add_jobstore(self.store, "default")
        self.scheduler.add_executor(FireCollector(self._on_fire), "default")
        self.scheduler.start()
        self.sync = jobs.JobSync(self.scheduler)
        existing = self.sync.load_existing(self.store)
        self.version = bk.poll(self.worker)[0]
        self.rows = jobs.load_rows()
        self.dependents = jobs.chain_dependents(self.rows)
        now = timezone.now()
        seen = previous["last_seen"] if previous else None
        pending = self.sync.pending_slots(existing, self.rows)
        for row, missed in recovery.find_missed(self.rows.values(), now, seen, pending):
            slot, rest = policy.split(missed, row.grace, now)
            self.starts.append(StartRequest(row.task_id, Trigger.SCHEDULE, slot=slot, missed=rest))
        added, removed = self.sync.apply(self.rows, None, now, existing=existing)
        self._ensure_engine_jobs()
        self.started = True
        recovery.write_heartbeat(self.worker, self._started_at)
        self._next_heartbeat = time.monotonic() + HEARTBEAT_EVERY
        self._next_resync = time.monotonic() + self.resync_every
        log.info("Scheduler engine started in %.2f s: %d task(s), %d scheduled (%d job(s) written, %d removed), "
                 "%d run(s) found lost, %d task(s) with missed slots", time.monotonic() - began, len(self.rows),
                 len(self.sync.jobs), added, removed, len(lost), len(self.starts))
        self.ready.set()

    def _ensure_engine_jobs(self):
        try:
            self.scheduler.add_job(
                jobs.TASK_JOB_FUNC, trigger=CronSlotTrigger(HOUSEKEEPING_SCHEDULE, settings.TIME_ZONE),
                args=[HOUSEKEEPING_JOB_ID], id=HOUSEKEEPING_JOB_ID, name="Prune execution history",
                coalesce=True, misfire_grace_time=None,
            )
        except ConflictingIdError:
            pass  # kept from the last run, with its next time: a prune missed while down runs now

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

    # The loop.

    def step(self, max_wait=FOREVER):
        """One round: start held runs whose slot has come, record ended runs, tick, claim the slots of the
        next moments, start what is due; then sleep until the next thing to do (or max_wait, or a wake-up)."""
        try:
            self._round()
        except Exception:  # the loop must outlive any bug; the next round tries again
            log.exception("Scheduler loop error; carrying on")
            self._fire_at = min(self._fire_at, time.time() + self.tick)
        now = time.time()
        wait = min(self._fire_at - AHEAD - now, self._next_tick - time.monotonic(), self.retry_at - now,
                   (self.held[0][0] - now) if self.held else FOREVER, max_wait)
        if wait > 0 and not self._stop_requested:
            self.wake.wait(wait)
        self.wake.clear()

    def _round(self):
        self._release_held()
        close_old_connections()
        self._record_finished()
        if time.monotonic() >= self._next_tick or time.time() >= self.retry_at:
            self._next_tick = time.monotonic() + self.tick
            self._tick()
        deferred = {}
        if self.scheduler.due or time.time() >= self._fire_at - AHEAD:
            try:
                deferred = self._process_due()
            except DatabaseError as exc:
                # The job store was not updated for these fires: they come again on the next round.
                self.fires, self.engine_due = [], []
                self._fire_at = time.time() + self.tick
                self._db_trouble("reading due jobs", exc)
                return
            self._db_ok("reading due jobs")
        self._flush(deferred)
        self._release_held()

    def _process_due(self):
        self.store.begin_deferring()
        try:
            following = self.scheduler.process_due(AHEAD, self._on_fire)
        finally:
            deferred = self.store.end_deferring()
        self._fire_at = following.timestamp() if following is not None else FOREVER
        return deferred

    def _on_fire(self, job, due):
        if job.id.startswith(ENGINE_JOB_PREFIX):
            self.engine_due.append((job.id, due.last))
        else:
            self.fires.append((job, due))

    def _flush(self, deferred):
        """Start what is due, in batches: a small first batch so the first runs start within milliseconds
        of their slot even in a burst, then larger ones. Each batch is one transaction holding its starts
        and its jobs' new next run times, so a failed batch leaves its fires due (they fire again on the
        next round) and loses nothing."""
        fires, self.fires = self.fires, []
        starts, self.starts = self.starts + self._chain_requests(), []
        claims, self.claims, self.chain_from = self.claims, [], []
        if not (deferred or fires or starts or claims):
            return
        now = timezone.now()
        requests = [self._fire_request(job, due, now) for job, due in fires] + starts
        first = FIRST_BATCH
        batches = [requests[:first]] + [requests[i:i + BATCH] for i in range(first, len(requests), BATCH)]
        for number, batch in enumerate(batches):
            if number:
                # The first batch waits for its slot (at most AHEAD); it must not also wait for the
                # later batches to be written, which can take longer on a busy machine.
                self._release_held(wait=True)
            jobs = [deferred.pop(r.task_id) for r in batch if r.fired and r.task_id in deferred]
            if number == 0:
                jobs += deferred.values()  # the engine's own jobs
            try:
                with transaction.atomic():
                    self.store.write_deferred(jobs)
                    plan = self._start_requests(batch, claims if number == 0 else (), timezone.now())
            except DatabaseError as exc:
                # Nothing of this batch was written: its fires are still due in the job store, its queued
                # runs still queued; other starts are kept for the next round.
                self._db_trouble("starting runs", exc)
                self.starts = [r for later in batches[number:] for r in later if not r.fired] + self.starts
                self._fire_at = min(self._fire_at, time.time() + self.tick)
                self.engine_due = []
                return
            self._carry_out(plan)
        self._db_ok("starting runs")
        for job_id, slot in self.engine_due:
            self._run_engine_job(job_id, slot)
        self.engine_due = []

    def _fire_request(self, job, due, now):
        row = self.rows.get(self.sync.pks.get(job.id))
        slot, rest = policy.split(due, policy.live_grace(row.grace if row is not None else 0), now)
        return StartRequest(job.id, Trigger.SCHEDULE, slot=slot, missed=rest,
                            next_run_time=job.next_run_time, set_next=True, fired=True)

    def _record_finished(self):
        batch = self.unrecorded
        try:
            while True:
                batch.append(self.finished.get_nowait())
        except queue.Empty:
            pass
        if not batch:
            return
        try:
            with transaction.atomic():
                plan = self._end_batch(batch, timezone.now())
        except DatabaseError as exc:
            self.unrecorded = batch
            self._db_trouble("recording ended runs", exc)
            return
        self._db_ok("recording ended runs")
        self.unrecorded = []
        self._forget(batch)
        self._carry_out(plan)

    def _tick(self):
        """The poll: configuration marker, queued runs to claim, stop requests, heartbeat."""
        try:
            version, queued, stops = bk.poll(self.worker)
            if version != self.version or time.monotonic() >= self._next_resync:
                self._resync(version)
            now = timezone.now()
            due, later = [], FOREVER
            for pk, not_before in queued:
                if not_before is None or not_before <= now:
                    due.append(pk)
                else:
                    later = min(later, not_before.timestamp())
            self.claims = due
            self.retry_at = later
            for pk, who in stops:
                if pk in self.running and pk not in self.stopping:
                    log.info("Stopping execution %s of task %s, as %s asked", pk, self.running[pk].task.task_id, who)
                    self._stop(pk, f"requested by {who}", who=who)
        except DatabaseError as exc:
            self._db_trouble("polling", exc)
            return
        self._db_ok("polling")
        if time.monotonic() >= self._next_heartbeat:
            self._next_heartbeat = time.monotonic() + HEARTBEAT_EVERY
            recovery.write_heartbeat(self.worker, self._started_at)
            self._check_lock()

    def _resync(self, version):
        full = time.monotonic() >= self._next_resync
        rows = jobs.load_rows()
        now = timezone.now()
        if full:
            self._next_resync = time.monotonic() + self.resync_every
            stored = self.store.stored_next_run_times()
            for job_id in [j for j in self.sync.jobs if j not in stored]:
                self.sync.jobs.pop(job_id)  # a job row deleted behind our back (admin): written again
            changed = None
        else:
            changed = {pk for pk, row in rows.items() if self.rows.get(pk) != row}
        added, removed = self.sync.apply(rows, changed, now)
        gone = len(self.rows.keys() - rows.keys())
        self.rows = rows
        self.dependents = jobs.chain_dependents(rows)
        if version != self.version:
            slog.info("Configuration version %s: %d task(s) changed, %d deleted; %d job(s) written, %d removed",
                      version, len(changed) if changed is not None else len(rows), gone, added, removed)
        self.version = version

    def _check_lock(self):
        if self.lock.still_held():
            return
        log.warning("The scheduler lock was lost (database session ended); taking it again")
        try:
            self.lock.reacquire()
        except Exception as exc:
            log.error("Could not take the scheduler lock again (%s): stopping, another scheduler may run", exc)
            self.exit_code = 1
            self.request_stop()
            return
        log.info("Scheduler lock taken again")

    def _db_trouble(self, what, exc):
        if what not in self._db_failing:
            log.warning("Database trouble while %s (%s); retrying on the next tick", what, exc)
            self._db_failing.add(what)
        try:
            connection.close_if_unusable_or_obsolete()
        except Exception:
            pass

    def _db_ok(self, what):
        if what in self._db_failing:
            self._db_failing.discard(what)
            log.info("Database available again for %s", what)

    # The engine's own jobs.

    def _run_engine_job(self, job_id, slot):
        if job_id != HOUSEKEEPING_JOB_ID:
            return
        if self._housekeeping is not None and self._housekeeping.is_alive():
            return
        self._housekeeping = run_in_background(self.scheduler, job_id, slot)
