"""The scheduler's rules (engine/policy.py) one by one, with every fact handed in: no database, no threads,
no processes, no clock. The whole file runs in milliseconds; test_policies.py shows the same rules through
the running engine."""
import math
from datetime import datetime, timedelta, timezone

from tasks_app.engine import policy
from tasks_app.engine.policy import REPLACE, RUN, SKIP, WAIT, LatestRun, Missed, Overlap

UTC = timezone.utc
NOON = datetime(2031, 3, 4, 12, 0, tzinfo=UTC)


def minutes(n):
    return timedelta(minutes=n)


# Overlap (task_overlap).

def test_a_run_of_an_idle_task_starts_whatever_its_overlap_rule():
    for rule in ("skip", "queue", "replace", "allow"):
        assert policy.overlap_action(rule, busy=set()) == Overlap(RUN)


def test_a_new_run_is_skipped_while_the_task_is_busy_and_the_reason_names_the_running_execution():
    action = policy.overlap_action("skip", busy={12, 9})
    assert action == Overlap(SKIP, "execution 9 of this task is still running (task_overlap: skip)")


def test_a_second_run_started_in_the_same_batch_is_skipped_though_nothing_runs_yet():
    action = policy.overlap_action("skip", busy=set(), planned=1)
    assert action == Overlap(SKIP, "another run of this task is still running (task_overlap: skip)")


def test_an_unknown_overlap_rule_is_treated_as_skip():
    assert policy.overlap_action("sometimes", busy={3}).action == SKIP


def test_allow_starts_a_run_beside_the_busy_ones():
    assert policy.overlap_action("allow", busy={1, 2}, planned=3) == Overlap(RUN)


def test_a_queued_run_waits_when_the_task_is_busy():
    assert policy.overlap_action("queue", busy={4}) == Overlap(WAIT)


def test_a_queued_run_waits_behind_a_run_started_in_the_same_batch():
    assert policy.overlap_action("queue", busy=set(), planned=1) == Overlap(WAIT)


def test_a_queued_run_is_skipped_when_another_already_waits():
    reason = "a run is already waiting for the current one to end (task_overlap: queue)"
    assert policy.overlap_action("queue", busy={4}, waiting=True) == Overlap(SKIP, reason)
    assert policy.overlap_action("queue", busy={4}, waiting_in_batch=True) == Overlap(SKIP, reason)


def test_replace_stops_the_busy_runs_not_already_stopping_in_order():
    assert policy.overlap_action("replace", busy={8, 3, 5}, stopping={5}) == Overlap(REPLACE, [3, 8])


def test_replace_supersedes_a_run_already_waiting_from_an_earlier_batch():
    assert policy.overlap_action("replace", busy={3}, waiting=True) == Overlap(REPLACE, [3])


def test_a_second_replacing_run_in_the_same_batch_is_skipped():
    action = policy.overlap_action("replace", busy={3}, waiting_in_batch=True)
    assert action == Overlap(SKIP, "another run is already waiting to replace the current one (task_overlap: replace)")


def test_replace_with_only_a_run_planned_in_the_batch_has_nothing_to_stop_yet():
    assert policy.overlap_action("replace", busy=set(), planned=1) == Overlap(REPLACE, [])


# Retries (task_retry, task_retry_interval).

def retry(**facts):
    given = dict(attempt=1, retries=2, interval=30, stopped=False, enabled=True, asked_by_user=False)
    return policy.retry_after(**{**given, **facts})


def test_a_failed_first_attempt_is_tried_again_after_the_retry_interval():
    assert retry() == 30


def test_a_zero_interval_retry_is_still_a_retry():
    assert retry(interval=0) == 0


def test_the_last_allowed_attempt_is_retried_and_the_one_after_it_is_not():
    assert retry(attempt=2, retries=2) == 30
    assert retry(attempt=3, retries=2) is None


def test_a_task_without_retries_is_not_tried_again():
    assert retry(retries=0) is None


def test_a_run_someone_stopped_is_not_tried_again():
    assert retry(stopped=True) is None
    assert retry(stopped=True, asked_by_user=True) is None


def test_a_disabled_tasks_scheduled_run_is_not_tried_again_but_one_a_user_asked_for_is():
    assert retry(enabled=False) is None
    assert retry(enabled=False, asked_by_user=True) == 30


def test_only_failures_timeouts_and_runs_lost_with_their_worker_are_retryable():
    assert set(policy.RETRYABLE) == {"failed", "timeout", "lost"}


def test_a_run_asked_for_by_a_person_is_told_apart_from_schedule_and_chain_runs():
    assert policy.asked_by_a_user("alice")
    assert not policy.asked_by_a_user(policy.SCHEDULER)
    assert not policy.asked_by_a_user(policy.CHAIN + "extract")


# Queued runs to claim.

def test_queued_runs_without_a_not_before_or_past_it_are_due_and_the_earliest_other_is_when_to_look_again():
    queued = [(1, None), (2, NOON - minutes(1)), (3, NOON + minutes(5)), (4, NOON), (5, NOON + minutes(2))]
    due, later = policy.due_claims(queued, NOON)
    assert due == [1, 2, 4]
    assert later == (NOON + minutes(2)).timestamp()


def test_with_nothing_queued_nothing_is_due_and_there_is_no_time_to_look_again():
    assert policy.due_claims([], NOON) == ([], math.inf)


# Dependencies (task_dependencies).

def problem(deps=("a", "b"), existing=("a", "b"), running=(), latest=None):
    ok = {dep: LatestRun("success", NOON) for dep in deps}
    return policy.dependency_problem(list(deps), set(existing), set(running), ok if latest is None else latest)


def test_a_task_whose_dependencies_all_succeeded_and_none_runs_has_no_problem():
    assert problem() is None


def test_a_task_without_dependencies_has_no_problem():
    assert problem(deps=(), existing=()) is None


def test_a_missing_dependency_is_named():
    assert problem(existing=("a",)) == "dependency b does not exist"


def test_a_dependency_with_a_run_going_is_still_running_whatever_its_latest_result():
    assert problem(running=("a",)) == "dependency a is still running"


def test_a_dependency_that_never_ran_is_named():
    assert problem(latest={"a": LatestRun("success", NOON)}) == "dependency b has not run yet"


def test_a_dependency_whose_latest_run_failed_is_named_with_how_it_ended():
    latest = {"a": LatestRun("success", NOON), "b": LatestRun("timeout", NOON)}
    assert problem(latest=latest) == "dependency b did not succeed (its latest run ended timeout)"


def test_the_first_dependency_with_a_problem_is_the_one_named():
    assert problem(existing=("b",), running=("b",)) == "dependency a does not exist"


def test_task_dependencies_are_read_as_task_ids():
    assert policy.dependencies(None) == []
    assert policy.dependencies(["a", 7]) == ["a", "7"]


# Chains (a task without a schedule that runs after its dependencies).

def test_a_chain_that_never_ran_starts_once_every_dependency_succeeded():
    latest = {"a": LatestRun("success", NOON), "b": LatestRun("success", NOON - minutes(9))}
    assert policy.chain_ready(["a", "b"], latest, own_last=None)


def test_a_chain_waits_while_a_dependency_has_not_succeeded():
    assert not policy.chain_ready(["a", "b"], {"a": LatestRun("success", NOON)}, own_last=None)
    latest = {"a": LatestRun("success", NOON), "b": LatestRun("failed", NOON)}
    assert not policy.chain_ready(["a", "b"], latest, own_last=None)


def test_a_chain_runs_again_only_when_every_dependency_succeeded_since_its_own_last_run():
    latest = {"a": LatestRun("success", NOON), "b": LatestRun("success", NOON - minutes(5))}
    assert not policy.chain_ready(["a", "b"], latest, own_last=NOON - minutes(5))
    assert policy.chain_ready(["a", "b"], latest, own_last=NOON - minutes(6))


def test_a_dependency_success_without_an_end_time_does_not_count_after_a_chain_run():
    assert not policy.chain_ready(["a"], {"a": LatestRun("success", None)}, own_last=NOON)


def test_a_task_without_dependencies_is_never_a_ready_chain():
    assert not policy.chain_ready([], {}, own_last=None)


# Missed slots (task_misfire_grace).

def test_a_single_due_slot_within_the_grace_runs_and_nothing_is_missed():
    assert policy.split(Missed(1, NOON, NOON), 60, NOON + timedelta(seconds=60)) == (NOON, None)


def test_a_single_due_slot_older_than_the_grace_does_not_run_and_is_missed():
    missed = Missed(1, NOON, NOON)
    assert policy.split(missed, 60, NOON + timedelta(seconds=61)) == (None, missed)


def test_of_many_missed_slots_only_the_latest_runs_and_the_rest_end_at_the_one_before_it():
    missed = Missed(5, NOON - minutes(4), NOON, before_last=NOON - minutes(1))
    slot, rest = policy.split(missed, 120, NOON + minutes(1))
    assert slot == NOON
    assert rest == Missed(4, NOON - minutes(4), NOON - minutes(1))


def test_a_live_fire_gets_at_least_ten_seconds_of_grace_whatever_the_task_asks():
    assert policy.live_grace(0) == policy.LIVE_LATENESS == 10
    assert policy.live_grace(None) == 10
    assert policy.live_grace(300) == 300


def test_missed_slots_are_counted_between_the_last_seen_moment_and_now():
    found = policy.missed_slots("*/15 * * * *", "UTC", NOON, NOON + minutes(60))
    assert found == Missed(4, NOON + minutes(15), NOON + minutes(60), NOON + minutes(45))
    assert policy.missed_slots("0 0 1 1 *", "UTC", NOON, NOON + minutes(60)) is None


def test_a_year_of_missed_minutes_is_counted_exactly_without_listing_them():
    found = policy.missed_slots("* * * * *", "UTC", NOON, NOON + timedelta(days=365))
    assert found.count == 365 * 24 * 60 and found.first == NOON + minutes(1)
    assert (found.last, found.before_last) == (NOON + timedelta(days=365), NOON + timedelta(days=365) - minutes(1))


def test_the_missed_record_says_how_many_when_in_the_tasks_zone_and_why():
    one = Missed(1, NOON, NOON)
    assert policy.missed_reason(one, "Asia/Shanghai", 60, ran_latest=False) == (
        "missed 1 scheduled run(s) at 2031-03-04 20:00 CST while the scheduler was not running; "
        "the latest was more than task_misfire_grace (60 s) ago")
    many = Missed(3, NOON - minutes(2), NOON)
    assert policy.missed_reason(many, "No/Such_Zone", 60, ran_latest=True) == (
        "missed 3 scheduled run(s) between 2031-03-04 11:58 UTC and 2031-03-04 12:00 UTC while the "
        "scheduler was not running; only the latest slot runs")


def test_a_pause_holds_back_scheduled_chained_and_trigger_url_runs_but_not_those_a_person_asked_for_or_retries():
    from tasks_app.models import Pause, Trigger

    everything = Pause(tag="", started_by="otto")
    held = {trigger for trigger in Trigger.values if policy.pause_holding(trigger, ["etl"], [everything])}
    assert held == {"schedule", "dependency", "hook"}
    assert policy.pause_holding(Trigger.HOOK, ["etl"], [Pause(tag="billing", started_by="otto")]) is None
