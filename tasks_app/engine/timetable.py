"""Timetable: the cron side of the engine. APScheduler without a loop of its own (apsched.EngineScheduler) on
the Django job store, one job per scheduled task kept in step with the tasks (jobs.JobSync over the few
columns of each task held in memory), the fires collected each round as StartRequests, and the engine's
own jobs (history housekeeping). It follows the configuration marker: a change re-reads the tasks."""
import logging
import time
from datetime import timezone as dt_timezone

from apscheduler.jobstores.base import ConflictingIdError
from django.conf import settings
from django.utils import timezone

from tasks_app.models import Trigger

from . import jobs, policy, recovery
from .apsched import EngineScheduler, FireCollector
from .housekeeping import HOUSEKEEPING_JOB_ID, HOUSEKEEPING_SCHEDULE, run_in_background
from .jobstore import ENGINE_JOB_PREFIX, EngineJobStore
from .plan import StartRequest
from .trigger import CronSlotTrigger

log = logging.getLogger("SchedulerEngine")
slog = logging.getLogger("Scheduler")

FOREVER = float("inf")


class Timetable:
    def __init__(self, wake, *, tick: float, ahead: float):
        self.wake = wake
        self.tick = tick
        self.ahead = ahead  # fires are collected this long before their slot
        self.resync_every = float(settings.SCHEDULER_RESYNC_INTERVAL)
        self.scheduler = None
        self.store = None
        self.sync = None
        self.version = None  # the configuration marker the tasks in memory were read at
        self.rows = {}  # task pk -> jobs.TaskRow
        self.dependents = {}  # task_id -> chain task pks
        self.fire_at = 0.0  # wall clock: the next slot of any job
        self._fires = []  # (job, policy.Missed) collected while APScheduler processes due jobs
        self._engine_due = []  # (job id, slot) of the engine's own jobs
        self._existing = {}  # job id -> Job left in the store by the previous scheduler, until scheduled
        self._next_resync = 0.0  # monotonic
        self._fingerprint = None  # jobs.fingerprint() at the last full resync
        self._housekeeping = None

    # Start-up.

    def start(self):
        """Start APScheduler on the job store and read the jobs a previous scheduler left there."""
        self.scheduler = EngineScheduler(
            self.wake, timezone=dt_timezone.utc, jobstore_retry_interval=self.tick,
            job_defaults={"coalesce": False, "misfire_grace_time": None, "max_instances": 1_000_000},
        )
        self.store = EngineJobStore()
        self.scheduler.add_jobstore(self.store, "default")
        self.scheduler.add_executor(FireCollector(self._on_fire), "default")
        self.scheduler.start()
        self.sync = jobs.JobSync(self.scheduler, self.store)
        self._existing = self.sync.load_existing(self.store)

    def read_tasks(self, version):
        """Read every task, at configuration marker `version` (read just before)."""
        self.version = version
        self.rows = jobs.load_rows()
        self.dependents = jobs.chain_dependents(self.rows)

    def missed_requests(self, now, last_seen) -> list[StartRequest]:
        """For each task that missed slots while no scheduler ran (`last_seen`: the previous one's heartbeat),
        the latest slot to run if it is within task_misfire_grace, and the rest to record as missed."""
        pending = self.sync.pending_slots(self._existing, self.rows)
        requests = []
        for row, missed in recovery.find_missed(self.rows.values(), now, last_seen, pending):
            slot, rest = policy.split(missed, row.grace, now)
            requests.append(StartRequest(row.task_id, Trigger.SCHEDULE, slot=slot, missed=rest))
        return requests

    def schedule_all(self, now) -> tuple[int, int]:
        """Bring every job in line with the tasks; (jobs written, jobs removed)."""
        added, removed = self.sync.apply(self.rows, None, now, existing=self._existing)
        self._existing = {}
        try:
            self.scheduler.add_job(
                jobs.TASK_JOB_FUNC, trigger=CronSlotTrigger(HOUSEKEEPING_SCHEDULE, settings.TIME_ZONE),
                args=[HOUSEKEEPING_JOB_ID], id=HOUSEKEEPING_JOB_ID, name="Prune execution history",
                coalesce=True, misfire_grace_time=None,
            )
        except ConflictingIdError:
            pass  # kept from the last run, with its next time: a prune missed while down runs now
        self._next_resync = time.monotonic() + self.resync_every
        return added, removed

    @property
    def job_count(self) -> int:
        return len(self.sync.jobs)

    # Fires.

    def resync_in(self) -> float:
        """Seconds until the periodic full resync, for which a tick must read the database whatever changed."""
        return max(0.0, self._next_resync - time.monotonic())

    def is_due(self) -> bool:
        return self.scheduler.due or time.time() >= self.fire_at - self.ahead

    def process_due(self) -> dict:
        """Collect the fires of the next moments; returns the fired jobs whose new next run time is to be
        written with their starts (job id -> Job). Database errors propagate."""
        self.store.begin_deferring()
        try:
            following = self.scheduler.process_due(self.ahead, self._on_fire)
        finally:
            deferred = self.store.end_deferring()
        self.fire_at = following.timestamp() if following is not None else FOREVER
        return deferred

    def _on_fire(self, job, due):
        if job.id.startswith(ENGINE_JOB_PREFIX):
            self._engine_due.append((job.id, due.last))
        else:
            self._fires.append((job, due))

    def drop_fires(self):
        """The job store was not updated for the fires collected: they come again in a tick."""
        self._fires, self._engine_due = [], []
        self.fire_at = time.time() + self.tick

    def look_again_in(self, seconds: float):
        self.fire_at = min(self.fire_at, time.time() + seconds)

    def take_fires(self, now) -> list[StartRequest]:
        """The fires collected, as StartRequests: the latest due slot runs if it is late by less than the
        live grace (policy.live_grace), the slots before it are recorded as missed."""
        fires, self._fires = self._fires, []
        requests = []
        for job, due in fires:
            row = self.rows.get(self.sync.pks.get(job.id))
            slot, rest = policy.split(due, policy.live_grace(row.grace if row is not None else 0), now)
            requests.append(StartRequest(job.id, Trigger.SCHEDULE, slot=slot, missed=rest,
                                         next_run_time=job.next_run_time, set_next=True, fired=True))
        return requests

    def chain_requests(self, succeeded) -> list[StartRequest]:
        """The chain runs to consider now that the tasks `succeeded` (task_ids) have."""
        requests = []
        for dep in succeeded:
            for pk in self.dependents.get(dep, ()):
                row = self.rows.get(pk)
                if row is not None:
                    requests.append(StartRequest(row.task_id, Trigger.DEPENDENCY, requested_by=policy.CHAIN + dep))
        return requests

    def run_engine_jobs(self):
        """Start the engine's own jobs that came due (housekeeping runs in a thread of its own)."""
        due, self._engine_due = self._engine_due, []
        for job_id, slot in due:
            if job_id != HOUSEKEEPING_JOB_ID:
                continue
            if self._housekeeping is not None and self._housekeeping.is_alive():
                continue
            self._housekeeping = run_in_background(self.scheduler, job_id, slot)

    def drop_engine_jobs(self):
        self._engine_due = []

    # Following changes.

    def follow(self, version):
        """Re-read the tasks if the configuration marker moved (only the changed ones get their jobs
        rewritten) or a full resync is due (every job checked, and written again if its row is gone)."""
        if version == self.version and time.monotonic() < self._next_resync:
            return
        full = time.monotonic() >= self._next_resync
        if full:
            self._next_resync = time.monotonic() + self.resync_every
            seen, self._fingerprint = self._fingerprint, jobs.fingerprint()  # read before the rows it vouches for
            if version == self.version and seen == self._fingerprint and seen[3] == len(self.sync.jobs):
                return  # nothing moved since the last full read, and every job held is stored
        rows = jobs.load_rows()
        now = timezone.now()
        if full:
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

    # Shutdown.

    def stop(self):
        try:
            self.scheduler.shutdown(wait=False)
        except Exception:
            log.exception("APScheduler shutdown failed")

    def join_housekeeping(self, timeout: float):
        if self._housekeeping is not None:
            self._housekeeping.join(timeout)
