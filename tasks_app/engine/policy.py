"""The scheduler's rules that need no scheduler state: missed slots (task_misfire_grace) and dependencies
(task_dependencies). Each answers with a reason in words, which the skipped execution records."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from tasks_app import cron
from tasks_app.models import ExecutionStatus, Task, TaskExecution

from .bookkeeping import format_slot

# A dependency's "latest execution" is its latest real run: records of runs that never happened
# (skipped) or have not started (queued) say nothing about whether it succeeded.
NOT_A_RUN = [ExecutionStatus.SKIPPED, ExecutionStatus.QUEUED]
MISSED_LIMIT = 10000


@dataclass
class Missed:
    """The slots a task missed: `count` of them from `first` to `last` (aware UTC); `before_last` is the
    slot before `last` (None if there is only one)."""
    count: int
    first: datetime
    last: datetime
    before_last: datetime | None = None
    at_least: bool = False  # more than MISSED_LIMIT: count is a lower bound


def missed_slots(expression, zone, since, now) -> Missed | None:
    """Slots t with since < t <= now."""
    slots = cron.fire_times_between(expression, zone, since, now, limit=MISSED_LIMIT)
    if not slots:
        return None
    if len(slots) < MISSED_LIMIT:
        return Missed(len(slots), slots[0], slots[-1], slots[-2] if len(slots) > 1 else None)
    # Too many to list: find the last two by looking back from now in growing windows.
    window = timedelta(hours=1)
    while True:
        recent = cron.fire_times_between(expression, zone, max(since, now - window), now, limit=MISSED_LIMIT)
        if len(recent) >= 2 and len(recent) < MISSED_LIMIT:
            return Missed(len(slots), slots[0], recent[-1], recent[-2], at_least=True)
        if now - window <= since:  # cannot happen for five-field cron (at most 60 slots an hour)
            return Missed(len(slots), slots[0], slots[-1], slots[-2], at_least=True)
        window *= 4


def from_run_times(run_times: list[datetime]) -> Missed:
    """APScheduler's list of due slots (oldest first) as a Missed."""
    return Missed(len(run_times), run_times[0], run_times[-1], run_times[-2] if len(run_times) > 1 else None)


def split(missed: Missed, grace_seconds: int, now: datetime):
    """-> (slot to run or None, Missed for the slots not run, or None).

    The rule: only the latest slot can still run, and only if it is at most task_misfire_grace old."""
    if (now - missed.last).total_seconds() <= grace_seconds:
        if missed.count == 1:
            return missed.last, None
        rest = Missed(missed.count - 1, missed.first, missed.before_last or missed.first, at_least=missed.at_least)
        return missed.last, rest
    return None, missed


def missed_reason(missed: Missed, task, grace_seconds: int, ran_latest: bool) -> str:
    zone = task.timezone_name
    count = f"at least {missed.count}" if missed.at_least else str(missed.count)
    span = (f"at {format_slot(missed.first, zone)}" if missed.count == 1 and not missed.at_least
            else f"between {format_slot(missed.first, zone)} and {format_slot(missed.last, zone)}")
    why = ("only the latest slot runs" if ran_latest
           else f"the latest was more than task_misfire_grace ({grace_seconds} s) ago")
    return f"missed {count} scheduled run(s) {span} while the scheduler was not running; {why}"


def latest_run(task_id: str):
    """(status, end_time, queued_at) of a task's latest real run, or None."""
    return (TaskExecution.objects.filter(task__task_id=task_id).exclude(status__in=NOT_A_RUN)
            .order_by("-execution_id").values_list("status", "end_time", "queued_at").first())


def dependency_problem(task) -> str | None:
    """Why `task` may not run now, or None: every dependency's latest run succeeded and none is running."""
    deps = [str(d) for d in (task.task_dependencies or [])]
    if not deps:
        return None
    existing = set(Task.objects.filter(task_id__in=deps).values_list("task_id", flat=True))
    for dep in deps:
        if dep not in existing:
            return f"dependency {dep} does not exist"
        # Any run, not only the latest: with task_overlap "allow" an older one may still be going.
        if TaskExecution.objects.filter(task__task_id=dep, status=ExecutionStatus.RUNNING).exists():
            return f"dependency {dep} is still running"
        latest = latest_run(dep)
        if latest is None:
            return f"dependency {dep} has not run yet"
        status = latest[0]
        if status != ExecutionStatus.SUCCESS:
            return f"dependency {dep} did not succeed (its latest run ended {status})"
    return None


def chain_ready(task) -> bool:
    """A chain task (no schedule) runs when every dependency succeeded since its own last run."""
    deps = [str(d) for d in (task.task_dependencies or [])]
    if not deps:
        return False
    own = (TaskExecution.objects.filter(task=task).exclude(status=ExecutionStatus.SKIPPED)
           .order_by("-execution_id").values_list("queued_at", flat=True).first())
    for dep in deps:
        latest = latest_run(dep)
        if latest is None or latest[0] != ExecutionStatus.SUCCESS:
            return False
        if own is not None and (latest[1] is None or latest[1] <= own):
            return False
    return True


SCHEDULER = "scheduler"  # requested_by of the runs the scheduler starts by itself
CHAIN = "dependency "  # requested_by prefix of a chain run: "dependency <task_id>"


def asked_by_a_user(execution) -> bool:
    """A person asked for this run, or for the run it retries (run now), not a schedule or a chain."""
    who = execution.requested_by
    return who != SCHEDULER and not who.startswith(CHAIN)


def retry_after(execution) -> tuple[int, int] | None:
    """(task_retry_interval, task_retry) if a failed run is to be tried again, else None. Read now, not
    when the run started: a user may have stopped it as it failed, or deleted, disabled or edited its task
    while it ran. A disabled task's runs are retried only if a user asked for them."""
    row = (TaskExecution.objects.filter(pk=execution.pk)
           .values_list("stop_requested_by", "task__task_enabled", "task__task_retry", "task__task_retry_interval")
           .first())
    if row is None:  # the task was deleted, and its executions with it
        return None
    stopped_by, enabled, retries, interval = row
    if stopped_by or execution.attempt > retries or not (enabled or asked_by_a_user(execution)):
        return None
    return interval, retries


def previous_attempt(retry):
    """The failed run a pending retry would have tried again (its task loaded), or None."""
    return (TaskExecution.objects.filter(task_id=retry.task_id, attempt=retry.attempt - 1,
                                         scheduled_time=retry.scheduled_time, execution_id__lt=retry.pk)
            .select_related("task").order_by("-execution_id").first())

