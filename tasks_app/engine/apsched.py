"""APScheduler adapted to the engine: a scheduler without a loop of its own (the engine's Timetable calls
process_due() from the engine loop) and an executor that runs nothing but hands each fire, with its slots,
to the Timetable."""
import logging
import threading
from datetime import datetime, timedelta

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.base import BaseScheduler

from .policy import Missed, from_run_times, missed_slots
from .trigger import CronSlotTrigger

log = logging.getLogger("Scheduler")


class EngineScheduler(BaseScheduler):
    """An APScheduler scheduler without a loop of its own. Jobs, job stores and events are APScheduler's;
    the engine's Timetable asks process_due() for the fires of the next moments."""

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
        is not added to the run's lateness. A job's due slots go to on_fire(job, policy.Missed) (no misfire
        grace, no coalescing: the engine applies task_misfire_grace itself). Database errors propagate.
        Returns the next fire time of any job, or None."""
        horizon = datetime.now(self.timezone) + timedelta(seconds=ahead)
        self.due = False
        events, next_times = [], []
        with self._jobstores_lock:
            for alias, store in self._jobstores.items():
                for job in store.get_due_jobs(horizon):
                    try:
                        due, following = due_slots(job, horizon)
                    except Exception:
                        # A trigger that cannot compute (a zone this system no longer knows) must not hold up
                        # every job due after it: it is dropped, and the next full resync says why.
                        log.exception("Job %s: its fire times cannot be computed; removed", job.id)
                        self.remove_job(job.id, alias)
                        continue
                    on_fire(job, due)
                    events.append(JobSubmissionEvent(EVENT_JOB_SUBMITTED, job.id, alias, [due.last]))
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


def due_slots(job, horizon: datetime) -> tuple[Missed, datetime | None]:
    """The slots of a due job up to `horizon`, and its next fire time after them. The usual case (one slot
    due) costs one cron computation. After a clock jump or a suspended machine the slots are counted, not
    listed one by one as APScheduler does: a year of minutes would stall the loop for many seconds."""
    first, trigger = job.next_run_time, job.trigger
    following = trigger.get_next_fire_time(first, horizon)
    if following is None or following > horizon:
        return Missed(1, first, first), following
    if isinstance(trigger, CronSlotTrigger):
        due = missed_slots(trigger.expression, trigger.timezone_name, first - timedelta(microseconds=1), horizon)
    else:  # a job some other program stored: the next resync replaces it
        due = from_run_times(job._get_run_times(horizon))
    return due, trigger.get_next_fire_time(due.last, horizon)


class FireCollector(BaseExecutor):
    """The scheduler's executor (APScheduler wants one): it runs nothing, it hands a fire and its slots to
    the engine, should APScheduler's own _process_jobs ever be called."""

    def __init__(self, on_fire):
        super().__init__()
        self._on_fire = on_fire

    def submit_job(self, job, run_times):
        self._on_fire(job, from_run_times(list(run_times)))

    def _do_submit_job(self, job, run_times):  # pragma: no cover - submit_job is overridden
        raise NotImplementedError
