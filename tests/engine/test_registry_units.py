"""The RunRegistry (what the engine has in hand) on its own: unsaved executions, no database, no threads;
timestamps are handed in. The running engine's use of it is shown by test_policies.py and test_runs.py."""
from tasks_app.engine.registry import HELD_AT_MOST, RunRegistry
from tasks_app.models import TaskExecution

SLOT = 2_000_000_000.0  # a timestamp


def execution(pk, task_pk=1):
    return TaskExecution(execution_id=pk, task_id=task_pk)


def test_a_task_is_busy_with_the_runs_added_until_each_is_forgotten():
    registry = RunRegistry()
    first, second, other = execution(1), execution(2), execution(3, task_pk=2)
    for run in (first, second, other):
        registry.add(run)
    assert registry.busy(1) == {1, 2} and registry.busy(2) == {3}
    registry.forget(first)
    assert registry.busy(1) == {2} and not registry.is_running(1)
    registry.forget(second)
    assert registry.busy(1) == set() and 1 not in registry.by_task


def test_a_run_is_asked_to_stop_once_and_only_the_schedulers_own_stops_are_signed_by_it():
    registry = RunRegistry()
    registry.add(execution(1))
    registry.add(execution(2))
    assert registry.wants_stop(1)
    assert registry.mark_stopping(1, "alice")
    assert not registry.mark_stopping(1, "scheduler"), "a second stop of the same run is not carried out"
    assert not registry.wants_stop(1)
    assert registry.mark_stopping(2, "scheduler")
    assert registry.stopped_by == {2: "scheduler"}
    registry.forget(execution(2))
    assert registry.stopped_by == {} and registry.stopping == {1}


def test_a_stop_request_for_a_run_that_is_not_ours_is_not_wanted():
    assert not RunRegistry().wants_stop(99)


def test_the_runs_stopped_at_shutdown_are_signed_by_the_scheduler_even_if_someone_asked_before():
    registry = RunRegistry()
    registry.mark_stopping(1, "alice")
    registry.stopped_at_shutdown([1, 2])
    assert registry.stopped_by == {1: "scheduler", 2: "scheduler"} and registry.stopping == {1, 2}


def test_one_run_per_task_waits_and_a_newer_one_takes_its_place():
    registry = RunRegistry()
    older, newer = execution(5), execution(6)
    registry.wait(older)
    registry.wait(newer)
    assert registry.waiting_for(1) is newer
    registry.unwait(1)
    assert registry.waiting_for(1) is None
    registry.unwait(1)  # nothing waits: nothing to do


def test_held_runs_come_out_in_slot_order_once_their_slot_has_come():
    registry = RunRegistry()
    late, early = execution(1), execution(2, task_pk=2)
    registry.hold(late, SLOT + 0.05)
    registry.hold(early, SLOT)
    assert registry.next_held() == SLOT and registry.last_held() == SLOT + 0.05
    assert registry.pop_due(SLOT - 0.01) is None
    assert registry.pop_due(SLOT) is early
    assert registry.pop_due(SLOT) is None
    assert registry.pop_due(SLOT + 0.05) is late
    assert registry.next_held() is None and registry.last_held() is None


def test_a_held_run_starts_at_once_when_the_clock_was_set_back_further_than_a_hold_can_last():
    registry = RunRegistry()
    registry.hold(execution(1), SLOT)
    assert registry.pop_due(SLOT - HELD_AT_MOST) is None
    assert registry.pop_due(SLOT - HELD_AT_MOST - 3600).pk == 1


def test_a_held_run_can_be_taken_out_before_its_slot():
    registry = RunRegistry()
    for pk in (1, 2, 3):
        registry.hold(execution(pk, task_pk=pk), SLOT + pk)
    assert registry.unhold(2).pk == 2
    assert registry.unhold(2) is None
    assert [registry.pop_due(SLOT + 10).pk for _ in range(2)] == [1, 3]
