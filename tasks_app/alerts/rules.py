"""The alert rules as pure functions: what a run's outcome means for a task's streak, and whether it calls for an
alert (on failure, from the Nth failure in a row, on recovery, on success, on state changes only, with a quiet
period that holds repeats back and makes the next alert say how many there were). No database, no clock: every
fact is passed in, so tests/alerts/test_rules_units.py checks them in milliseconds."""
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

SUCCESS, FAILURE = "success", "failure"
# A slot counts as missed only when its run is this late at least (seconds), whatever task_misfire_grace says.
MISSED_AFTER_AT_LEAST = 60
# Statuses that end a run that ran or should have: stopped by a person is neither (it was deliberate).
FAILED_STATUSES = frozenset({"failed", "timeout", "lost"})


def outcome_of(status: str) -> str | None:
    """"success", "failure", or None for a status that says nothing about the task's health (stopped, skipped)."""
    if status == "success":
        return SUCCESS
    if status in FAILED_STATUSES:
        return FAILURE
    return None


@dataclass(frozen=True)
class Streak:
    """A task's memory between outcomes (models.TaskAlertState holds it)."""
    last_outcome: str = ""
    failures_in_row: int = 0
    failing_since: datetime | None = None
    alerted: bool = False  # a failure alert of this streak went out
    last_alert_at: datetime | None = None
    held: int = 0  # failure alerts held back by the quiet period since last_alert_at


@dataclass(frozen=True)
class Decision:
    """An alert to send: its event, and for failures and recoveries how many failures since when, and how many
    alerts the quiet period held back before it."""
    event: str  # "failure", "recovery" or "success" (models.AlertEvent)
    failures: int = 0
    since: datetime | None = None
    held: int = 0


def decide(rules: dict, streak: Streak, outcome: str, now: datetime) -> tuple[Streak, Decision | None]:
    """The streak after `outcome` and the alert it calls for (None: no alert). `rules`: the effective task_alerts
    (definition.alert_rules.effective)."""
    if outcome == SUCCESS:
        return _success(rules, streak, now)
    if outcome == FAILURE:
        return _failure(rules, streak, now)
    return streak, None


def _success(rules, streak, now):
    after = Streak(last_outcome=SUCCESS, last_alert_at=streak.last_alert_at, held=streak.held)
    if streak.last_outcome == FAILURE and streak.alerted and rules["on_recovery"]:
        return after, Decision("recovery", failures=streak.failures_in_row, since=streak.failing_since)
    if rules["on_success"] and not (rules["state_change_only"] and streak.last_outcome == SUCCESS):
        return after, Decision("success")
    return after, None


def _failure(rules, streak, now):
    count = streak.failures_in_row + 1 if streak.last_outcome == FAILURE else 1
    since = streak.failing_since if streak.last_outcome == FAILURE and streak.failing_since else now
    alerted = streak.alerted if streak.last_outcome == FAILURE else False
    after = replace(streak, last_outcome=FAILURE, failures_in_row=count, failing_since=since, alerted=alerted)
    if not rules["on_failure"] or count < rules["failures_in_row"]:
        return after, None
    if rules["state_change_only"] and alerted:
        return after, None  # this streak was told about already
    if in_quiet_period(rules, streak.last_alert_at, now):
        return replace(after, held=streak.held + 1), None
    decision = Decision("failure", failures=count, since=since, held=streak.held)
    return replace(after, alerted=True, last_alert_at=now, held=0), decision


def in_quiet_period(rules: dict, last_alert_at: datetime | None, now: datetime) -> bool:
    quiet = rules["quiet_period"]
    return bool(quiet and last_alert_at is not None and now - last_alert_at < timedelta(seconds=quiet))


def overrun_threshold(expected: int | None, durations: list[float]) -> float | None:
    """Seconds after which a run is an overrun: the task's expected duration, else three times the median of its
    last successful runs' durations (newest first, at most 20 used) once there are 5; None: not known yet."""
    if expected:
        return float(expected)
    recent = sorted(d for d in durations[:20] if d is not None)
    if len(recent) < 5:
        return None
    middle = len(recent) // 2
    median = recent[middle] if len(recent) % 2 else (recent[middle - 1] + recent[middle]) / 2
    return max(3 * median, 1.0)
