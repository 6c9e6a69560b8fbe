"""APScheduler adapted to the engine: a scheduler without a loop of its own (SchedulerEngine's loop calls
_process_jobs()) and an executor that runs nothing but hands each fire, with its slots, to the engine."""
import threading

from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.base import BaseScheduler


class EngineScheduler(BaseScheduler):
    """An APScheduler scheduler without a loop of its own: SchedulerEngine calls _process_jobs()."""

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


class FireCollector(BaseExecutor):
    """The APScheduler executor: it runs nothing, it hands each fire and its slots to the engine.
    (APScheduler passes the slots to executors, not to job functions.)"""

    def __init__(self, on_fire):
        super().__init__()
        self._on_fire = on_fire

    def submit_job(self, job, run_times):
        self._on_fire(job, list(run_times))

    def _do_submit_job(self, job, run_times):  # pragma: no cover - submit_job is overridden
        raise NotImplementedError
