"""Recording ends in a stream: a lone end is recorded at once, ends reported within endings.GATHER of the last batch
wait for the rest of that time (or until GATHER_AT_MOST wait) and go in one transaction; the Dispatcher wakes the
engine for the first end reported since it last took them, not for each."""
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks_app.engine import endings
from tasks_app.engine.dispatch import Dispatcher
from tasks_app.engine.endings import EndRecorder
from tasks_app.engine.registry import RunRegistry
from tasks_app.engine.runner import not_started
from tasks_app.engine.trouble import DatabaseTrouble
from tasks_app.models import ExecutionStatus, TaskExecution, Trigger

from .conftest import wait_for

pytestmark = pytest.mark.django_db


class Reported:
    """The Dispatcher's side EndRecorder uses: ends reported, taken, forgotten; nothing carried out."""

    def __init__(self):
        self.ended = []

    def take_finished(self):
        taken, self.ended = self.ended, []
        return taken

    def finished_waiting(self):
        return len(self.ended)

    def forget(self, execution):
        pass

    def carry_out(self, plan):
        pass


def running(task, count):
    return [TaskExecution.objects.create(task=task, trigger=Trigger.MANUAL, status=ExecutionStatus.RUNNING,
                                         worker="w", start_time=timezone.now()) for _ in range(count)]


def status(execution):
    return TaskExecution.objects.get(pk=execution.pk).status


def test_a_lone_end_is_recorded_at_once_and_the_next_ones_wait_to_go_together(make_task):
    task = make_task("gathered")
    runs = running(task, 4)
    reported = Reported()
    recorder = EndRecorder(RunRegistry(), reported, DatabaseTrouble(), "w")
    reported.ended.append((runs[0], not_started(runs[0], "gone")))
    assert recorder.due_in() == 0
    assert recorder.record(gather=True) is not None and status(runs[0]) == ExecutionStatus.FAILED

    reported.ended += [(run, not_started(run, "gone")) for run in runs[1:]]
    assert 0 < recorder.due_in() <= endings.GATHER
    assert recorder.record(gather=True) is None and status(runs[1]) == ExecutionStatus.RUNNING
    wait_for(lambda: recorder.due_in() == 0, 5 * endings.GATHER, interval=0.005, what="the gathering time")
    with CaptureQueriesContext(connection) as queries:
        assert recorder.record(gather=True) is not None
    assert [status(run) for run in runs[1:]] == [ExecutionStatus.FAILED] * 3
    assert sum(1 for q in queries if q["sql"].upper().startswith(("BEGIN", "SAVEPOINT"))) <= 1
    assert recorder.due_in() == float("inf")


def test_enough_ends_waiting_or_the_shutdown_record_them_without_waiting(make_task, monkeypatch):
    monkeypatch.setattr(endings, "GATHER_AT_MOST", 2)
    task = make_task("many")
    runs = running(task, 4)
    reported = Reported()
    recorder = EndRecorder(RunRegistry(), reported, DatabaseTrouble(), "w")
    reported.ended.append((runs[0], not_started(runs[0], "gone")))
    recorder.record(gather=True)
    reported.ended.append((runs[1], not_started(runs[1], "gone")))
    assert recorder.due_in() > 0
    assert recorder.record(start_waiting=False) is not None  # the shutdown's call does not gather
    reported.ended += [(run, not_started(run, "gone")) for run in runs[2:]]
    assert recorder.due_in() == 0
    assert recorder.record(gather=True) is not None
    assert {status(run) for run in runs} == {ExecutionStatus.FAILED}


def test_the_engine_is_woken_by_the_first_end_reported_since_it_last_took_them():
    wake = threading.Event()
    dispatcher = Dispatcher(RunRegistry(), executor=None, journal=None, wake=wake)
    first, second, third = (TaskExecution(execution_id=pk, task_id=1) for pk in (1, 2, 3))
    dispatcher._on_finish(first, "ended")
    assert wake.is_set()
    wake.clear()
    dispatcher._on_finish(second, "ended")
    assert not wake.is_set() and dispatcher.finished_waiting() == 2
    assert [e.pk for e, _ in dispatcher.take_finished()] == [1, 2]
    dispatcher._on_finish(third, "ended")
    assert wake.is_set()
