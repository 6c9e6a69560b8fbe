"""The database reads behind the scheduler's rules: each function gathers what a rule of policy.py needs and
asks it, so the rule itself stays pure. They run inside the engine's batch transactions."""
import datetime
import zoneinfo

from django.db.models import Max

from tasks_app.models import ExecutionStatus, Task, TaskExecution

from . import policy

# A dependency's "latest execution" is its latest real run: records of runs that never happened
# (skipped) or have not started (queued) say nothing about whether it succeeded.
NOT_A_RUN = [ExecutionStatus.SKIPPED, ExecutionStatus.QUEUED]


def latest_runs(task_ids) -> dict[str, policy.LatestRun]:
    """task_id -> its latest real run, for those of `task_ids` that have one."""
    latest = (TaskExecution.objects.filter(task__task_id__in=task_ids).exclude(status__in=NOT_A_RUN)
              .order_by().values("task_id").annotate(last=Max("execution_id")).values_list("last", flat=True))
    rows = TaskExecution.objects.filter(pk__in=list(latest)).values_list("task__task_id", "status", "end_time")
    return {task_id: policy.LatestRun(status, end_time) for task_id, status, end_time in rows}


def dependency_problem(task) -> str | None:
    """Why the scheduled `task` may not run now because of its dependencies, or None."""
    deps = policy.dependencies(task.task_dependencies)
    if not deps:
        return None
    existing = set(Task.objects.filter(task_id__in=deps).values_list("task_id", flat=True))
    running = set(TaskExecution.objects.filter(task__task_id__in=deps, status=ExecutionStatus.RUNNING)
                  .values_list("task__task_id", flat=True))
    return policy.dependency_problem(deps, existing, running, latest_runs(deps))


def chain_ready(task) -> bool:
    """Whether the chain `task` runs now that one of its dependencies succeeded."""
    deps = policy.dependencies(task.task_dependencies)
    if not deps:
        return False
    own_last = (TaskExecution.objects.filter(task=task).exclude(status=ExecutionStatus.SKIPPED)
                .order_by("-execution_id").values_list("queued_at", flat=True).first())
    return policy.chain_ready(deps, latest_runs(deps), own_last)


def retry_after(execution) -> tuple[int, int] | None:
    """(task_retry_interval, task_retry) if the failed `execution` is to be tried again, else None. Read
    now, not when the run started: a user may have stopped it as it failed, or deleted, disabled or edited
    its task while it ran."""
    row = (TaskExecution.objects.filter(pk=execution.pk)
           .values_list("stop_requested_by", "task__task_enabled", "task__task_retry", "task__task_retry_interval")
           .first())
    if row is None:  # the task was deleted, and its executions with it
        return None
    stopped_by, enabled, retries, interval = row
    after = policy.retry_after(execution.attempt, retries, interval, stopped=bool(stopped_by), enabled=enabled,
                               asked_by_user=policy.asked_by_a_user(execution.requested_by))
    return None if after is None else (after, retries)


def previous_attempt(retry):
    """The failed run a pending retry would have tried again (its task loaded), or None."""
    return (TaskExecution.objects.filter(task_id=retry.task_id, attempt=retry.attempt - 1,
                                         scheduled_time=retry.scheduled_time, execution_id__lt=retry.pk)
            .select_related("task").order_by("-execution_id").first())


def calendar_rule(task, rules: dict):
    """The task's calendar, read once per batch (`rules`: name -> CalendarRule or None, kept by the Starter for
    one plan), so a midnight burst of tasks on one custom calendar reads it once."""
    name = task.task_calendar
    if name not in rules:
        rules[name] = task.calendar_rule()
    return rules[name]


def calendar_verdict(task, slot, rules: dict):
    """The task's calendar's DayVerdict for the day of `slot` in the task's zone; None without a calendar or
    when the one it names is gone."""
    rule = calendar_rule(task, rules)
    if rule is None:
        return None
    try:
        zone = zoneinfo.ZoneInfo(task.timezone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.timezone.utc
    return rule.verdict(slot.astimezone(zone).date())


def next_on_calendar(task, after, rules: dict):
    """The task's first fire time at or after `after` on its calendar's days (the engine's next_run_time for
    TaskStatus: APScheduler's next slot may fall on a day the calendar skips)."""
    rule = calendar_rule(task, rules)
    if rule is None:
        return after
    try:
        times = rule.fire_times(task.task_schedule, task.timezone_name, after - datetime.timedelta(microseconds=1), 1)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return after
    return times[0] if times else None
