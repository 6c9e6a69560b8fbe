"""Dispatcher: carries out a committed Plan - hands runs to the executor (holding a run claimed just before
its slot until the slot), stops runs, keeps the RunRegistry up to date and sends the notices due - and
collects what the executor threads report back (the pid of each child, how each run ended)."""
import logging
import queue
import time

from tasks_app.models import ExecutionStatus, Trigger

from .notify import notify_execution_later
from .plan import Plan
from .registry import HELD_AT_MOST
from .runner import not_started

log = logging.getLogger("Scheduler")
engine_log = logging.getLogger("SchedulerEngine")


class Dispatcher:
    def __init__(self, registry, executor, journal, wake):
        self.registry = registry
        self.executor = executor
        self.journal = journal  # the pid of each child, for crash recovery
        self._wake = wake  # set when a run ends, so the engine loop records it at once
        self._finished = queue.SimpleQueue()  # (execution, RunResult) from executor threads

    def carry_out(self, plan: Plan):
        for execution_id in plan.stop:
            self.stop(execution_id, "replaced by a newer run (task_overlap: replace)", who="scheduler")
        for task_pk in plan.unwait:
            self.registry.unwait(task_pk)
        for execution in plan.wait:
            self.registry.wait(execution)
            log.info("Task %s: execution %s waits for the running one to end (task_overlap: %s)",
                     execution.task.task_id, execution.pk, execution.task.task_overlap)
        for execution in plan.run:
            self._submit(execution)
        for execution in plan.notify:
            notify_execution_later(execution)

    def _submit(self, execution):
        self.registry.add(execution)
        slot = execution.scheduled_time
        if execution.trigger == Trigger.SCHEDULE and slot is not None and slot.timestamp() > time.time():
            self.registry.hold(execution, slot.timestamp())  # claimed a moment early
            return
        self._hand_over(execution)

    def adopt(self, execution):
        """A run a previous scheduler sent to a Celery worker: this scheduler follows it from now on."""
        self.registry.add(execution)
        self.executor.adopt(execution, self._on_start, self._on_finish)

    def release_held(self, wait=False):
        """Hand over the runs whose slot has come (claimed just before it, see scheduler.AHEAD); with
        wait, sleep until the slots of all held runs have come."""
        last = self.registry.last_held()
        if wait and last is not None:
            ahead = last - time.time()
            if 0 < ahead <= HELD_AT_MOST:
                time.sleep(ahead)
        while (execution := self.registry.pop_due(time.time())) is not None:
            self._hand_over(execution)

    def _hand_over(self, execution):
        slot = f" for slot {execution.scheduled_time.isoformat()}" if execution.scheduled_time else ""
        log.info("Task %s: execution %s starts (%s%s, attempt %s)", execution.task.task_id, execution.pk,
                 execution.trigger, slot, execution.attempt)
        try:
            self.executor.submit(execution, self._on_start, self._on_finish)
        except Exception as exc:  # a broken executor must not lose the run: it is recorded as failed
            log.exception("Executor refused execution %s", execution.pk)
            self._on_finish(execution, not_started(execution, f"could not be handed to the executor: {exc}"))

    def stop(self, execution_id, reason, who):
        if not self.registry.mark_stopping(execution_id, who):
            return
        execution = self.registry.unhold(execution_id)
        if execution is not None:  # claimed but not started yet: it never will
            self._on_finish(execution, not_started(execution, f"stopped: {reason}", ExecutionStatus.STOPPED))
            return
        if not self.executor.stop(execution_id, reason):
            log.info("Execution %s asked to stop (%s) is not in the executor any more", execution_id, reason)

    def stop_requested(self, stops, shutting_down=False):
        """Act on the stop requests read from the database, [(execution id, who asked)]."""
        for pk, who in stops:
            if self.registry.wants_stop(pk):
                if shutting_down:
                    engine_log.info("Stopping execution %s during shutdown, as %s asked", pk, who)
                else:
                    engine_log.info("Stopping execution %s of task %s, as %s asked", pk,
                             self.registry.running[pk].task.task_id, who)
                self.stop(pk, f"requested by {who}", who=who)

    def take_finished(self) -> list:
        """The (execution, RunResult) pairs reported since the last call."""
        ended = []
        try:
            while True:
                ended.append(self._finished.get_nowait())
        except queue.Empty:
            return ended

    def forget(self, execution):
        """The run's end is recorded: it is no longer ours."""
        self.registry.forget(execution)
        self.journal.done(execution.pk)

    # Executor callbacks (executor threads: no database here).

    def _on_start(self, execution, pid):
        self.journal.record(execution.pk, pid)

    def _on_finish(self, execution, result):
        self._finished.put((execution, result))
        self._wake.set()
