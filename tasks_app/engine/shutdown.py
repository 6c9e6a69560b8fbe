"""Shutdown: how the engine's runs end when it stops (SIGTERM, SIGINT, --max-seconds). No new work; running
executions get settings.SCHEDULER_STOP_GRACE seconds, then are stopped; a user's stop meanwhile is carried out
at once; every run's end is recorded before the process exits (what cannot be, with the database down, the
next start records as lost)."""
import logging
import threading
import time

from django.db import Error as DatabaseError
from django.db import close_old_connections, transaction
from django.utils import timezone

from tasks_app.models import ExecutionStatus

from . import bookkeeping as bk
from . import preparation

log = logging.getLogger("SchedulerEngine")

FINAL_ATTEMPTS = 10  # tries at recording the last ends, FINAL_PAUSE s apart
FINAL_PAUSE = 0.5


class Shutdown:
    def __init__(self, *, registry, dispatcher, endings, executor, trouble, worker: str, tick: float,
                 grace: float):
        self.registry = registry
        self.dispatcher = dispatcher
        self.endings = endings
        self.executor = executor
        self.trouble = trouble
        self.worker = worker
        self.tick = tick
        self.grace = grace

    def finish_runs(self) -> bool:
        """Let the runs end (or stop them) and record every end; True if nothing is left unrecorded."""
        self.registry.stopped_at_shutdown(self._shut_executor())
        self._final_records()
        return not self.registry.running and not self.endings.unrecorded

    def _shut_executor(self) -> list[int]:
        """executor.shutdown(grace), while this thread still acts on stop requests: a user's stop must not
        wait for the grace to run out (10 s by default). Returns the ids the executor stopped itself."""
        stopped = []
        closer = threading.Thread(target=lambda: stopped.extend(self.executor.shutdown(self.grace)),
                                  name="executor-shutdown", daemon=True)
        closer.start()
        while closer.is_alive():
            try:
                close_old_connections()
                self.dispatcher.stop_requested(bk.poll(self.worker)[2], shutting_down=True)
            except DatabaseError as exc:
                self.trouble.failed("polling at shutdown", exc)
            closer.join(self.tick)
        return stopped

    def _final_records(self):
        """Record every run's end before exiting; what cannot be recorded now becomes lost on next start."""
        for _ in range(FINAL_ATTEMPTS):
            close_old_connections()
            self.endings.record(start_waiting=False)
            if not self.endings.unrecorded:
                try:
                    self._close_unreported(timezone.now())
                    return
                except DatabaseError as exc:
                    self.trouble.failed("recording runs at shutdown", exc)
            time.sleep(FINAL_PAUSE)
        log.error("Could not record %d run(s) at shutdown; the next start records them as lost",
                  len(self.registry.running) + len(self.endings.unrecorded))

    def _close_unreported(self, now):
        """The runs that never reported their end, and those still waiting behind them, end stopped. Runs on
        Celery workers go on: the next scheduler adopts them (recovery.adopt_running)."""
        running, waiting = self.registry.running, self.registry.waiting
        for execution in running.values():
            preparation.discard(execution)  # held for its slot, prepared, never handed over
        if running and self.executor.runs_elsewhere:
            log.info("%d run(s) go on on their workers; the next scheduler follows them", len(running))
            running.clear()
        with transaction.atomic():
            if running:
                count = bk.end_unfinished(running, status=ExecutionStatus.STOPPED, now=now,
                                          reason="stopped: the scheduler shut down before this run reported its end")
                for execution in running.values():
                    execution.status, execution.end_time = ExecutionStatus.STOPPED, now
                bk.statuses_ended([(execution, False) for execution in running.values()])
                if count:
                    log.warning("%d run(s) did not report their end before shutdown", count)
            if waiting:
                bk.end_unfinished([e.pk for e in waiting.values()], status=ExecutionStatus.STOPPED, now=now,
                                  reason="stopped: the scheduler shut down before this queued run started")
        running.clear()
        waiting.clear()
