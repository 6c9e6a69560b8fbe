"""What the engine decides inside one transaction and carries out after it commits: the reasons to start a
task (StartRequest) and the Plan of runs to hand over, hold back, stop and report."""
import math
from dataclasses import dataclass, field
from datetime import datetime

from . import policy


@dataclass
class StartRequest:
    """A reason to start a task now: a cron fire (with slots missed before it), a chain, ..."""
    task_id: str
    trigger: str
    slot: datetime | None = None
    missed: policy.Missed | None = None  # slots that will not run: one skipped execution records them
    requested_by: str = policy.SCHEDULER
    next_run_time: datetime | None = None
    set_next: bool = False
    fired: bool = False  # an APScheduler fire: its job's new next run time is written with it


@dataclass
class Plan:
    """What to do once a transaction has committed (never before: a rollback must leave no trace)."""
    run: list = field(default_factory=list)  # executions to hand to the executor
    wait: list = field(default_factory=list)  # executions held back behind the running one
    unwait: list = field(default_factory=list)  # task pks whose waiting run has started or gone
    stop: list = field(default_factory=list)  # execution ids to stop (task_overlap "replace")
    notify: list = field(default_factory=list)  # executions whose notices are due
    chain_from: list = field(default_factory=list)  # task_ids that succeeded: their chains may start
    started: dict = field(default_factory=dict)  # task pk -> runs started in this batch
    waiting: set = field(default_factory=set)  # task pks a run of this batch waits for
    rows: list = field(default_factory=list)  # (kind, unsaved TaskExecution) decided, to insert
    next_runs: dict = field(default_factory=dict)  # task pk -> next fire time for TaskStatus
    retry_at: float = math.inf  # when the earliest retry queued by this batch may start (a timestamp)

    def add_run(self, execution):
        self.run.append(execution)
        self.count_start(execution.task_id)

    def count_start(self, task_pk):
        self.started[task_pk] = self.started.get(task_pk, 0) + 1

    def undo_start(self, kind, execution):
        """A decided row that was not written after all (its slot was taken)."""
        if kind == "run":
            self.started[execution.task_id] -= 1
            if not self.started[execution.task_id]:
                del self.started[execution.task_id]
        elif kind == "wait":
            self.waiting.discard(execution.task_id)
