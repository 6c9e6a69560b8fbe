"""APScheduler adapted to the engine: a scheduler without a loop of its own (SchedulerEngine's loop calls
process_due()) and an executor that runs nothing but hands each fire, with its slots, to the engine."""
import logging
import threading
from datetime import datetime, timedelta

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger("Scheduler")


class EngineScheduler(BaseScheduler):
    """An APScheduler scheduler without a loop of its own. Jobs, job stores and events are APScheduler's;
    SchedulerEngine asks process_due() for the fires of the next moments."""

    def __init__(self, wake: threading.Event, **options):
        self._wake = wake
        self.due = True
        super().__init__(**options)

    def shutdown(self, wait=True):
        super().shutdown(wait)
        self._wake.set()

    def wakeup(self):
        self.due = True
        self._wake.set()

    def process_due(self, ahead: float, on_fire):
        """APScheduler's _process_jobs, but looking `ahead` seconds into the future: the engine writes a
        slot's claim just before the slot and only starts the process at the slot, so the database work
        is not added to the run's lateness. Every due slot goes to on_fire(job, run_times) (no misfire
        grace, no coalescing: the engine applies task_misfire_grace itself). Database errors propagate.
        Returns the next fire time of any job, or None."""
        horizon = datetime.now(self.timezone) + timedelta(seconds=ahead)
        self.due = False
        events, next_times = [], []
        with self._jobstores_lock:
            for alias, store in self._jobstores.items():
                for job in store.get_due_jobs(horizon):
                    try:
                        run_times = job._get_run_times(horizon)
                        following = job.trigger.get_next_fire_time(run_times[-1], horizon) if run_times else None
                    except Exception:
                        # A trigger that cannot compute (a zone this system no longer knows) must not hold up
                        # every job due after it: it is dropped, and the next full resync says why.
                        log.exception("Job %s: its fire times cannot be computed; removed", job.id)
                        self.remove_job(job.id, alias)
                        continue
                    if not run_times:
                        continue
                    on_fire(job, run_times)
                    events.append(JobSubmissionEvent(EVENT_JOB_SUBMITTED, job.id, alias, run_times))
                    if following:
                        job._modify(next_run_time=following)
                        store.update_job(job)
                    else:
                        self.remove_job(job.id, alias)
                store_next = store.get_next_run_time()
                if store_next:
                    next_times.append(store_next)
        for event in events:
            self._dispatch_event(event)
        return min(next_times) if next_times else None


class FireCollector(BaseExecutor):
    """The scheduler's executor (APScheduler wants one): it runs nothing, it hands a fire and its slots to
    the engine, should APScheduler's own _process_jobs ever be called."""

    def __init__(self, on_fire):
        super().__init__()
        self._on_fire = on_fire

    def submit_job(self, job, run_times):
        self._on_fire(job, list(run_times))

    def _do_submit_job(self, job, run_times):  # pragma: no cover - submit_job is overridden
        raise NotImplementedError
