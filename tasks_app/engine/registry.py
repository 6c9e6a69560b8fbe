"""RunRegistry: the runs this scheduler has in hand - running, held back behind a running one, asked to stop,
and claimed a moment before their slot. Only the engine thread touches it (executor threads report through
the Dispatcher's queue), so it needs no lock, but for the held runs, which the Dispatcher's slot watch hands
over at their slot under the Dispatcher's lock; it never touches the database."""
import heapq

# A run is claimed at most scheduler.AHEAD (0.5 s) before its slot and held until then. Held for longer than
# this, the clock was set back meanwhile: the run starts at once rather than when the clock comes round again.
HELD_AT_MOST = 1.0  # seconds


class RunRegistry:
    def __init__(self):
        self.running = {}  # execution id -> TaskExecution (task loaded): handed to the executor or held
        self.by_task = {}  # task pk -> ids of its running executions
        self.waiting = {}  # task pk -> the TaskExecution held back by task_overlap "queue" or "replace"
        self.stopping = set()  # execution ids asked to stop
        self.stopped_by = {}  # execution id -> "scheduler", for the stops the engine itself decided
        self._held = []  # heap of (slot timestamp, execution id, execution): claimed, started at the slot

    # Running.

    def add(self, execution):
        self.running[execution.pk] = execution
        self.by_task.setdefault(execution.task_id, set()).add(execution.pk)

    def busy(self, task_pk) -> set:
        """Ids of the task's runs going now."""
        return self.by_task.get(task_pk, set())

    def is_running(self, execution_id) -> bool:
        return execution_id in self.running

    def forget(self, execution):
        """The run has ended and its end is recorded."""
        self.running.pop(execution.pk, None)
        ids = self.by_task.get(execution.task_id)
        if ids is not None:
            ids.discard(execution.pk)
            if not ids:
                del self.by_task[execution.task_id]
        self.stopping.discard(execution.pk)
        self.stopped_by.pop(execution.pk, None)

    # Stopping.

    def mark_stopping(self, execution_id, who) -> bool:
        """Note a stop; False if the run was already asked to stop. `who` "scheduler" is recorded as the
        one who stopped it (a user's name is written by the page or API that asked)."""
        if execution_id in self.stopping:
            return False
        self.stopping.add(execution_id)
        if who == "scheduler":
            self.stopped_by[execution_id] = who
        return True

    def stopped_at_shutdown(self, execution_ids):
        """The executor stopped these itself as the scheduler shut down: the scheduler stopped them."""
        for execution_id in execution_ids:
            self.stopped_by[execution_id] = "scheduler"
            self.stopping.add(execution_id)

    def wants_stop(self, execution_id) -> bool:
        """A stop request seen in the database concerns a run of ours not asked to stop yet."""
        return execution_id in self.running and execution_id not in self.stopping

    # Waiting behind a running one.

    def wait(self, execution):
        self.waiting[execution.task_id] = execution

    def unwait(self, task_pk):
        self.waiting.pop(task_pk, None)

    def waiting_for(self, task_pk):
        return self.waiting.get(task_pk)

    # Held until the slot.

    def hold(self, execution, slot_timestamp: float):
        heapq.heappush(self._held, (slot_timestamp, execution.pk, execution))

    def next_held(self) -> float | None:
        """The slot (a timestamp) of the first held run, or None."""
        return self._held[0][0] if self._held else None

    def held(self) -> list:
        """The held runs, the first slot first: [(slot timestamp, execution)]."""
        return [(slot, execution) for slot, _, execution in sorted(self._held, key=lambda held: held[:2])]

    def last_held(self) -> float | None:
        return max(slot for slot, _, _ in self._held) if self._held else None

    def pop_due(self, now: float):
        """The held run whose slot has come at `now` (a timestamp), or whose slot is more than HELD_AT_MOST
        ahead (the clock was set back); None if there is none."""
        if self._held and not 0 < self._held[0][0] - now <= HELD_AT_MOST:
            return heapq.heappop(self._held)[2]
        return None

    def is_held(self, execution_id) -> bool:
        return any(pk == execution_id for _, pk, _ in self._held)

    def unhold(self, execution_id):
        """Take a held run out (it will never start); returns it, or None if it is not held."""
        for index, (_, pk, execution) in enumerate(self._held):
            if pk == execution_id:
                self._held.pop(index)
                heapq.heapify(self._held)
                return execution
        return None
