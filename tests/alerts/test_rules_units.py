"""The alert rules as pure functions (tasks_app/alerts/rules.py), without a database or a clock."""
from datetime import datetime, timedelta, timezone

import pytest

from tasks_app.alerts import rules
from tasks_app.alerts.rules import FAILURE, SUCCESS, Streak, decide
from tasks_app.definition import alert_rules

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


def run(outcomes, **task_alerts):
    """The events alerted for a sequence of outcomes one minute apart."""
    effective = alert_rules.effective(task_alerts, {})
    streak, said = Streak(), []
    for minute, outcome in enumerate(outcomes):
        streak, decision = decide(effective, streak, outcome, T0 + timedelta(minutes=minute))
        said.append(decision.event if decision else None)
    return said


def test_by_default_every_failure_and_the_recovery_are_alerted_and_successes_are_not():
    assert run([SUCCESS, FAILURE, FAILURE, SUCCESS, SUCCESS]) == [None, "failure", "failure", "recovery", None]


def test_from_the_third_failure_in_a_row_and_no_recovery_without_an_alert():
    assert run([FAILURE, FAILURE, SUCCESS, FAILURE, FAILURE, FAILURE, SUCCESS], failures_in_row=3) == \
        [None, None, None, None, None, "failure", "recovery"]


def test_state_changes_only():
    assert run([FAILURE, FAILURE, SUCCESS, SUCCESS, FAILURE], state_change_only=True, on_success=True) == \
        ["failure", None, "recovery", None, "failure"]


def test_every_success_when_asked_and_no_failure_when_not():
    assert run([SUCCESS, FAILURE, SUCCESS], on_success=True, on_failure=False) == ["success", None, "success"]


def test_a_quiet_period_holds_repeats_and_the_next_alert_counts_them():
    effective = alert_rules.effective({"quiet_period": 300}, {})
    streak, decisions = Streak(), []
    for minute in (0, 1, 2, 3, 6):
        streak, decision = decide(effective, streak, FAILURE, T0 + timedelta(minutes=minute))
        decisions.append(decision)
    assert [d is not None for d in decisions] == [True, False, False, False, True]
    last = decisions[-1]
    assert (last.failures, last.since, last.held) == (5, T0, 3)


def test_the_overrun_threshold_is_the_expected_duration_or_three_medians_once_there_are_five():
    assert rules.overrun_threshold(90, []) == 90.0
    assert rules.overrun_threshold(None, [10, 11, 12, 13]) is None
    assert rules.overrun_threshold(None, [10, 11, 12, 13, 100]) == 36.0
    assert rules.overrun_threshold(None, [10.0] * 30 + [1000.0]) == 30.0  # only the newest 20 count


@pytest.mark.parametrize("value, fragment", [
    ({"failures_in_row": 0}, "task_alerts.failures_in_row must be between 1 and 1000, got 0."),
    ({"quiet_period": "1h"}, "task_alerts.quiet_period must be a whole number, got '1h'."),
    ({"on_failure": "yes"}, "task_alerts.on_failure must be true or false, got 'yes'."),
    ({"loud": True}, "Unknown field task_alerts.loud"),
    ([], "task_alerts must be an object"),
])
def test_bad_rules_are_named_with_their_value(value, fragment):
    assert any(fragment in problem for problem in alert_rules.problems(value))


def test_malformed_alert_settings_stop_the_process_naming_them(monkeypatch):
    from scheduler_site import env

    monkeypatch.setenv("TASK_ALERTS", '{"failures_in_row": "3"}')
    with pytest.raises(env.ImproperlyConfiguredEnv, match="TASK_ALERTS.failures_in_row must be a whole number"):
        env.env_alert_rules("TASK_ALERTS", alert_rules.problems)
    monkeypatch.setenv("TASK_ALERTS", '{"quiet_period": 600}')
    assert env.env_alert_rules("TASK_ALERTS", alert_rules.problems) == {"quiet_period": 600}
    monkeypatch.setenv("NOTIFY_RETRY_DELAYS", "30,soon")
    with pytest.raises(env.ImproperlyConfiguredEnv, match="NOTIFY_RETRY_DELAYS='30,soon'"):
        env.env_delays("NOTIFY_RETRY_DELAYS", [30])
