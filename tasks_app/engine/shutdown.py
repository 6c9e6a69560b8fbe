"""How SchedulerEngine stops (SIGTERM, SIGINT, --max-seconds): no new work, running executions get
settings.SCHEDULER_STOP_GRACE seconds, then are stopped; every run's end is recorded before the process exits
(what cannot be recorded, with the database down, is recorded as lost by the next start)."""
import logging
import threading
import time

from django.db import Error as DatabaseError
from django.db import close_old_connections, connection, transaction
from django.db.backends.signals import connection_created
from django.utils import timezone

from tasks_app.models import ExecutionStatus

from . import bookkeeping as bk
from . import recovery

log = logging.getLogger("SchedulerEngine")


class ShutdownMixin:
    def shutdown(self):
        if not self.started:
            return
        self.started = False
        log.info("Scheduler engine stopping: %d run(s) in progress, up to %s s to finish", len(self.running),
                 self.stop_grace)
        try:
            self.scheduler.shutdown(wait=False)
        except Exception:
            log.exception("APScheduler shutdown failed")
        stopped = self._shut_executor()
        for execution_id in stopped:
            self.own_stops[execution_id] = "scheduler"
            self.stopping.add(execution_id)
        self._final_records()
        if self._housekeeping is not None:
            self._housekeeping.join(30)
        self.journal.close(remove=not self.running and not self.unrecorded)
        recovery.write_heartbeat(self.worker, self._started_at, stopped=True)
        connection_created.disconnect(self._tune_connection)
        self.lock.release()
        try:
            connection.close()
        except Exception:
            pass
        log.info("Scheduler engine stopped")

    def _shut_executor(self) -> list[int]:
        """executor.shutdown(grace), while this thread still acts on stop requests: a user's stop must not
        wait for the grace to run out (10 s by default). Returns the ids the executor stopped itself."""
        stopped = []
        closer = threading.Thread(target=lambda: stopped.extend(self.executor.shutdown(self.stop_grace)),
                                  name="executor-shutdown", daemon=True)
        closer.start()
        while closer.is_alive():
            try:
                close_old_connections()
                for pk, who in bk.poll(self.worker)[2]:
                    if pk in self.running and pk not in self.stopping:
                        log.info("Stopping execution %s during shutdown, as %s asked", pk, who)
                        self._stop(pk, f"requested by {who}", who=who)
            except DatabaseError as exc:
                self._db_trouble("polling at shutdown", exc)
            closer.join(self.tick)
        return stopped

    def _final_records(self):
        """Record every run's end before exiting; what cannot be recorded now becomes lost on next start."""
        for attempt in range(10):
            close_old_connections()
            self._record_finished()
            if not self.unrecorded:
                try:
                    self._close_unreported(timezone.now())
                    return
                except DatabaseError as exc:
                    self._db_trouble("recording runs at shutdown", exc)
            time.sleep(0.5)
        log.error("Could not record %d run(s) at shutdown; the next start records them as lost",
                  len(self.running) + len(self.unrecorded))

    def _close_unreported(self, now):
        with transaction.atomic():
            if self.running:
                count = bk.end_unfinished(self.running, status=ExecutionStatus.STOPPED, now=now,
                                          reason="stopped: the scheduler shut down before this run reported its end")
                for execution in self.running.values():
                    execution.status, execution.end_time = ExecutionStatus.STOPPED, now
                bk.statuses_ended([(execution, False) for execution in self.running.values()])
                if count:
                    log.warning("%d run(s) did not report their end before shutdown", count)
            waiting = [e.pk for e in self.waiting.values()]
            if waiting:
                bk.end_unfinished(waiting, status=ExecutionStatus.STOPPED, now=now,
                                  reason="stopped: the scheduler shut down before this queued run started")
        self.running.clear()
        self.waiting.clear()
