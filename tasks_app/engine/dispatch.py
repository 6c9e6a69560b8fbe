"""Dispatcher: carries out a committed Plan - hands runs to the executor (holding a run claimed just before
its slot until the slot), stops runs, keeps the RunRegistry up to date and sends the notices due - and
collects what the executor threads report back (the pid of each child, how each run ended)."""
import logging
import queue
import threading
import time

from tasks_app.models import ExecutionStatus, Trigger

from .notify import notify_executions_later
from .plan import Plan
from . import preparation
from .preparation import is_prepared, prepare_early
from .registry import HELD_AT_MOST
from .runner import not_started

log = logging.getLogger("Scheduler")

PREPARED_AHEAD = 2  # runs prepared before their slot, in times the executor's workers
# The slot watch wakes this long before a held run's slot and stays awake until it (yielding the GIL to the
# engine's other threads): on a VM that gave its CPU back to the host while the engine idled, a wake-up costs
# milliseconds, which would otherwise be paid after the slot, on the way to the script's start.
AWAKE_BEFORE = 0.003
engine_log = logging.getLogger("SchedulerEngine")


def describe(executions) -> str:
    """The runs of one hand-over for the log, grouped by why they start: "schedule for slot 2026-11-30T03:00:00+00:00:
    task a execution 1, task b execution 2 (attempt 2)"."""
    groups = {}
    for execution in executions:
        slot = f" for slot {execution.scheduled_time.isoformat()}" if execution.scheduled_time else ""
        attempt = f" (attempt {execution.attempt})" if execution.attempt != 1 else ""
        groups.setdefault(f"{execution.trigger}{slot}", []).append(
            f"task {execution.task.task_id} execution {execution.pk}{attempt}")
    return "; ".join(f"{why}: {', '.join(runs)}" for why, runs in groups.items())


class Dispatcher:
    def __init__(self, registry, executor, journal, wake):
        self.registry = registry
        self.executor = executor
        self.journal = journal  # the pid of each child, for crash recovery
        self._wake = wake  # set when a run ends, so the engine loop records it at once
        self._finished = queue.SimpleQueue()  # (execution, RunResult) from executor threads
        # The engine is woken by the first end reported since it last took them: while it gathers a stream of
        # ends into one transaction (endings.GATHER), the others need not wake it each.
        self._finish_lock = threading.Lock()
        self._finish_told = False
        # The slot watch hands held runs over at their slot from a thread of its own, so that a hand-over never
        # waits for the engine thread (writing a burst's later batch to a busy database, say). The lock makes a
        # held run's hand-over, preparation and stop one at a time: a stop finds it held or in the executor.
        self._lock = threading.RLock()
        self._held_changed = threading.Event()
        self._watch = None
        self._closed = False

    def carry_out(self, plan: Plan):
        for execution_id in plan.stop:
            self.stop(execution_id, "replaced by a newer run (task_overlap: replace)", who="scheduler")
        for task_pk in plan.unwait:
            self.registry.unwait(task_pk)
        for execution in plan.wait:
            self.registry.wait(execution)
            log.info("Task %s: execution %s waits for the running one to end (task_overlap: %s)",
                     execution.task.task_id, execution.pk, execution.task.task_overlap)
        with self._lock:  # the slot watch's room() and hand-over see no other hand-over between them
            self._hand_over([execution for execution in plan.run if not self._held(execution)])
        if plan.notify:
            notify_executions_later(plan.notify)

    def _held(self, execution) -> bool:
        """Takes the run in hand; True if it was claimed a moment before its slot and waits for it."""
        self.registry.add(execution)
        slot = execution.scheduled_time
        if execution.trigger == Trigger.SCHEDULE and slot is not None and slot.timestamp() > time.time():
            with self._lock:
                self.registry.hold(execution, slot.timestamp())
            if self._watch is None:
                self._watch = threading.Thread(target=self._watch_slots, name="slot-watch", daemon=True)
                self._watch.start()
            self._held_changed.set()
            return True
        return False

    def _watch_slots(self):
        while not self._closed:
            self._held_changed.clear()
            try:
                self.release_held()
            except Exception:  # the watch must outlive any bug; the engine thread releases held runs too
                log.exception("Slot watch error; carrying on")
            slot = self.registry.next_held()
            if slot is None:
                self._held_changed.wait()
            elif not self._held_changed.wait(max(0.0, slot - AWAKE_BEFORE - time.time())):
                # Bounded by the monotonic clock too: a wall clock set back meanwhile must not keep it spinning.
                awake_until = time.monotonic() + AWAKE_BEFORE
                while time.time() < slot and time.monotonic() < awake_until and not self._held_changed.is_set():
                    time.sleep(0)  # awake, and the GIL free for the others

    def close(self):
        """At shutdown: no held run is handed over any more (each is recorded stopped by the shutdown)."""
        with self._lock:
            self._closed = True
        self._held_changed.set()
        if self._watch is not None:
            self._watch.join(5)

    def adopt(self, execution):
        """A run a previous scheduler sent to a Celery worker: this scheduler follows it from now on."""
        self.registry.add(execution)
        self.executor.adopt(execution, self._on_start, self._on_finish)

    def prepare_held(self):
        """Prepare the runs held for a slot still to come (preparation.py), their shepherds started too
        (prestart.py), the first slot first, while there is time before it, so that at the slot only their specs
        are left to send. The first 2 x max_workers of them:
        those the pool starts at once and next; a later one waits for a worker anyway, and is prepared by it.
        The pool's idle workers they need are started now too."""
        if not getattr(self.executor, "prepares", False):
            return
        room, cost = PREPARED_AHEAD * self.executor.max_workers, 0.0
        with self._lock:
            held = self.registry.held()
        self.executor.warm(len(held))
        for slot, execution in held[:room]:
            began = time.time()
            if began + 2 * cost >= slot:
                return
            with self._lock:  # still held: not handed over (then its thread prepares it) nor stopped meanwhile
                if is_prepared(execution) or not self.registry.is_held(execution.pk):
                    continue
                prepare_early(execution)
            cost = time.time() - began

    def release_held(self, wait=False):
        """Hand over the runs whose slot has come (claimed just before it, see scheduler.AHEAD); with
        wait, prepare the held runs and sleep until all their slots have come."""
        last = self.registry.last_held()
        if wait and last is not None:
            self.prepare_held()
            ahead = last - time.time()
            if 0 < ahead <= HELD_AT_MOST:
                time.sleep(ahead)
        with self._lock:
            if self._closed:
                return
            due, now = [], time.time()
            while (execution := self.registry.pop_due(now)) is not None:
                due.append(execution)
            self._hand_over(due, go=True)

    def _go(self, executions):
        """The scripts of the runs due now, held with their shepherd started ahead, start from this thread: the
        run's executor thread, woken by the hand-over, would be a second wake-up on the way (and on a VM after an
        idle minute every wake-up is slow). Only as many as find a worker at once (the others'
        threads say "go" when they take them); a stop from now on finds the run in the executor, which ends it
        as a started one."""
        if not executions or not getattr(self.executor, "prepares", False):
            return
        for execution in executions[:self.executor.room()]:
            preparation.go(execution)

    def _hand_over(self, executions, go=False):
        """The runs due now, with one line for them all in the log, to the executor in one call. Line first, as
        the line of each run used to be: once the executor has the runs its threads take the GIL, and a line
        written after would say later than the hand-over was. With `go` (held runs at their slot), the scripts
        of those prepared for it start here too (_go): a run alone before its line, whose formatting after an idle
        minute is no longer on its way; a slot's batch after it, as the scripts started, on a small machine, would
        push back the line and the hand-over of the batch's other runs."""
        if not executions:
            return
        if len(executions) == 1:
            execution = executions[0]
            if go:
                self._go(executions)
            slot = f" for slot {execution.scheduled_time.isoformat()}" if execution.scheduled_time else ""
            log.info("Task %s: execution %s starts (%s%s, attempt %s)", execution.task.task_id, execution.pk,
                     execution.trigger, slot, execution.attempt)
        else:
            log.info("%d executions start: %s", len(executions), describe(executions))
            if go:
                self._go(executions)
        try:
            refused = self.executor.submit_many(executions, self._on_start, self._on_finish)
        except Exception as exc:  # a broken executor must not lose the runs: they are recorded as failed
            refused = [(execution, exc) for execution in executions]
        for execution, exc in refused:
            log.error("Executor refused execution %s: %s", execution.pk, exc)
            self._on_finish(execution, not_started(execution, f"could not be handed to the executor: {exc}"))

    def stop(self, execution_id, reason, who):
        if not self.registry.mark_stopping(execution_id, who):
            return
        with self._lock:
            execution = self.registry.unhold(execution_id)
            in_executor = execution is None and self.executor.stop(execution_id, reason)
        if execution is not None:  # claimed but not started yet: it never will
            self._on_finish(execution, not_started(execution, f"stopped: {reason}", ExecutionStatus.STOPPED))
            return
        if not in_executor:
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
        with self._finish_lock:
            self._finish_told = False
            try:
                while True:
                    ended.append(self._finished.get_nowait())
            except queue.Empty:
                return ended

    def finished_waiting(self) -> int:
        """How many ends are reported and not taken yet."""
        return self._finished.qsize()

    def forget(self, execution):
        """The run's end is recorded: it is no longer ours."""
        self.registry.forget(execution)
        self.journal.done(execution.pk)

    # Executor callbacks (executor threads: no database here).

    def _on_start(self, execution, pid):
        self.journal.record(execution.pk, pid)

    def _on_finish(self, execution, result):
        with self._finish_lock:
            self._finished.put((execution, result))
            told, self._finish_told = self._finish_told, True
        if not told:
            self._wake.set()
