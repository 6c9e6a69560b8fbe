"""The scheduler's rules as pure functions: everything a rule needs is passed in (no database, no threads, no
clock of its own), so each is unit-tested alone (tests/engine/test_policy_units.py). facts.py reads what they
need from the database. A rule that keeps a run from happening says why in words the execution records."""
import math
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from tasks_app import cron
from tasks_app.models import ExecutionStatus, OverlapPolicy, Trigger

SCHEDULER = "scheduler"  # requested_by of the runs the scheduler starts by itself
CHAIN = "dependency "  # requested_by prefix of a chain run: "dependency <task_id>"


def is_backfill(execution) -> bool:
    """A run of a backfill (its slots, or a retry of one of them): past work, which yields to on-time runs (in
    both executors)."""
    return getattr(execution, "backfill_id", None) is not None


def asked_by_a_user(requested_by: str) -> bool:
    """A person asked for this run, or for the run it retries (run now), not a schedule or a chain."""
    return requested_by != SCHEDULER and not requested_by.startswith(CHAIN)


# Missed slots (task_misfire_grace).

# A live fire a few seconds late is the engine's own latency (a busy or locked database), not a slot missed
# while the scheduler was down: task_misfire_grace 0 must not skip it.
LIVE_LATENESS = 10  # seconds


@dataclass
class Missed:
    """The slots a task missed: `count` of them from `first` to `last` (aware UTC); `before_last` is the
    slot before `last` (None if there is only one)."""
    count: int
    first: datetime
    last: datetime
    before_last: datetime | None = None


def missed_slots(expression, zone, since, now) -> Missed | None:
    """Slots t with since < t <= now. Counted from the cron fields, never listed: a day of every-minute
    slots for 10,000 tasks is 14 million minutes, a two-year clock leap a million for one task."""
    count = cron.count_fire_times(expression, zone, since, now)
    if not count:
        return None
    first = cron.next_fire_after(expression, zone, since)
    *earlier, last = cron.last_fire_times(expression, zone, now, 2, after=since)
    return Missed(count, first, last, earlier[0] if earlier else None)


def from_run_times(run_times: list[datetime]) -> Missed:
    """APScheduler's list of due slots (oldest first) as a Missed."""
    return Missed(len(run_times), run_times[0], run_times[-1], run_times[-2] if len(run_times) > 1 else None)


def split(missed: Missed, grace_seconds: int, now: datetime):
    """-> (slot to run or None, Missed for the slots not run, or None).

    The rule: only the latest slot can still run, and only if it is at most task_misfire_grace old."""
    if (now - missed.last).total_seconds() <= grace_seconds:
        if missed.count == 1:
            return missed.last, None
        rest = Missed(missed.count - 1, missed.first, missed.before_last or missed.first)
        return missed.last, rest
    return None, missed


def live_grace(misfire_grace: int | None) -> int:
    """The grace a fire of the running scheduler gets: the task's task_misfire_grace, at least LIVE_LATENESS."""
    return max(misfire_grace or 0, LIVE_LATENESS)


def format_slot(moment: datetime, zone_name: str) -> str:
    """A slot as a person reads it, in the task's zone (UTC if the zone is unknown)."""
    try:
        local = moment.astimezone(zoneinfo.ZoneInfo(zone_name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        local = moment
    return local.strftime("%Y-%m-%d %H:%M %Z")


def missed_reason(missed: Missed, zone: str, grace_seconds: int, ran_latest: bool) -> str:
    """What the one skipped execution recording `missed` says."""
    count = str(missed.count)
    span = (f"at {format_slot(missed.first, zone)}" if missed.count == 1
            else f"between {format_slot(missed.first, zone)} and {format_slot(missed.last, zone)}")
    why = ("only the latest slot runs" if ran_latest
           else f"the latest was more than task_misfire_grace ({grace_seconds} s) ago")
    return f"missed {count} scheduled run(s) {span} while the scheduler was not running; {why}"


# The pause switch (models.Pause).

def pause_covering(tags, pauses):
    """The first of `pauses` (the pauses on now, newest first) that holds back a task with task_tags `tags`, or
    None. A paused slot is recorded skipped with the pause's reason; runs a person asks for are not held back."""
    for pause in pauses:
        if pause.covers(tags):
            return pause
    return None


# What a pause holds back: the starts nobody asked for at that moment. A queued trigger-URL run and a scheduled
# or chained run waiting behind the current one (task_overlap: queue) were decided before the pause perhaps, but
# have not started: they are held back when they would start. "Run now", a backfill and retries still run (a retry
# finishes what already started: README, "Pause").
PAUSED_TRIGGERS = frozenset({Trigger.SCHEDULE, Trigger.DEPENDENCY, Trigger.HOOK})


def pause_holding(trigger, tags, pauses):
    """The pause that holds back a run of `trigger` of a task with task_tags `tags` about to start, or None."""
    return pause_covering(tags, pauses) if trigger in PAUSED_TRIGGERS else None


# Overlapping runs (task_overlap).

RUN, WAIT, REPLACE, SKIP = "run", "wait", "replace", "skip"


class Overlap(NamedTuple):
    """What a new run does: RUN now, WAIT for the current run to end, REPLACE it (stop `detail`, the ids of
    the runs to stop, then wait for them to end) or SKIP (`detail` says why)."""
    action: str
    detail: str | list[int] | None = None


def overlap_action(rule, busy=(), planned=0, waiting=False, waiting_in_batch=False, stopping=()) -> Overlap:
    """The task_overlap `rule` applied to a new run of a task. busy: ids of the task's runs going now;
    planned: how many of its runs the batch being decided already starts; waiting: a run of it already
    waits behind the current one; waiting_in_batch: the batch being decided already made one wait;
    stopping: runs already asked to stop (not asked again)."""
    if not busy and not planned:
        return Overlap(RUN)
    if rule == OverlapPolicy.ALLOW:
        return Overlap(RUN)
    if rule == OverlapPolicy.REPLACE:
        if waiting_in_batch:  # two requests in one batch: the first one waits, the second is not needed
            return Overlap(SKIP, "another run is already waiting to replace the current one (task_overlap: replace)")
        # A run already waiting (not in this batch) is superseded by this newer one: the newest wins.
        return Overlap(REPLACE, sorted(set(busy) - set(stopping)))
    if rule == OverlapPolicy.QUEUE:
        if waiting or waiting_in_batch:
            return Overlap(SKIP, "a run is already waiting for the current one to end (task_overlap: queue)")
        return Overlap(WAIT)
    current = f"execution {min(busy)}" if busy else "another run"
    return Overlap(SKIP, f"{current} of this task is still running (task_overlap: skip)")


# Retries (task_retry, task_retry_interval).

# A run lost with its Celery worker is tried again (on a worker that is alive). A run found lost when a
# scheduler starts is not: it was the scheduler that died, and its end is recorded without a retry.
RETRYABLE = (ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT, ExecutionStatus.LOST)


def retry_after(attempt, retries, interval, stopped, enabled, asked_by_user) -> int | None:
    """Seconds after its end at which a failed, timed-out or lost run is tried again, or None if it is not.
    attempt: the attempt that failed (1 for the first run); retries: task_retry; interval:
    task_retry_interval; stopped: someone asked to stop it; enabled: task_enabled; asked_by_user: a person
    asked for the run. A disabled task's runs are retried only if a person asked for them."""
    if stopped or attempt > retries or not (enabled or asked_by_user):
        return None
    return interval


def due_claims(queued, now: datetime) -> tuple[list[int], float]:
    """Queued runs nobody claimed, [(execution id, not_before or None)], split into the ids that may start
    at `now` and the moment (a timestamp; infinity if none) the earliest of the others may."""
    due, later = [], math.inf
    for pk, not_before in queued:
        if not_before is None or not_before <= now:
            due.append(pk)
        else:
            later = min(later, not_before.timestamp())
    return due, later


# Dependencies (task_dependencies).

class LatestRun(NamedTuple):
    """A task's latest real run (not skipped, not queued): how it ended and when (None: not yet)."""
    status: str
    end_time: datetime | None


def dependencies(raw) -> list[str]:
    """task_dependencies as a list of task ids."""
    return [str(dep) for dep in (raw or [])]


def dependency_problem(deps, existing, running, latest) -> str | None:
    """Why a scheduled task with dependencies `deps` may not run now, or None: every dependency exists, has
    no run going (`running`: the ones that have) and its latest real run succeeded (`latest`: task id ->
    LatestRun; missing if it has not run yet). The first dependency that fails the test is named."""
    for dep in deps:
        if dep not in existing:
            return f"dependency {dep} does not exist"
        # Any run, not only the latest: with task_overlap "allow" an older one may still be going.
        if dep in running:
            return f"dependency {dep} is still running"
        found = latest.get(dep)
        if found is None:
            return f"dependency {dep} has not run yet"
        if found.status != ExecutionStatus.SUCCESS:
            return f"dependency {dep} did not succeed (its latest run ended {found.status})"
    return None


def chain_ready(deps, latest, own_last) -> bool:
    """A chain task (no schedule) runs when every dependency's latest real run succeeded after the chain
    task's own last run was queued (`own_last`; None if it never ran). latest: task id -> LatestRun."""
    if not deps:
        return False
    for dep in deps:
        found = latest.get(dep)
        if found is None or found.status != ExecutionStatus.SUCCESS:
            return False
        if own_last is not None and (found.end_time is None or found.end_time <= own_last):
            return False
    return True


# Business calendars (task_calendar).

def on_calendar(name: str, verdict) -> tuple[str | None, str]:
    """(why a scheduled slot does not run, or None; what its run says). `verdict`: the calendar's DayVerdict for
    the slot's day in the task's zone, None when the calendar named no longer exists (the slot runs: losing runs
    to a deleted calendar would be silent, a note on each run is not)."""
    if not name:
        return None, ""
    if verdict is None:
        return None, f"calendar {name} does not exist: run as if the task had no calendar"
    if not verdict.runs:
        return (f"{verdict.reason}; {verdict.fallback}" if verdict.fallback else verdict.reason), ""
    return None, verdict.fallback
