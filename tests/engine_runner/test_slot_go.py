"""A run held for its slot, its shepherd started ahead: the dispatcher's slot watch tells its script to start at the
slot itself, before the hand-over to the executor and without waiting for an executor thread, as long as a worker is
free for the run; a stop that comes after that ends it as a started run."""
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tasks_app.engine import preparation
from tasks_app.engine.dispatch import Dispatcher
from tasks_app.engine.executor import LocalExecutor
from tasks_app.engine.registry import RunRegistry
from tests.engine.conftest import wait_for

from .test_handover import Journal

pytestmark = pytest.mark.django_db

LEAD = 0.6  # seconds between the claim and the slot (a run is held at most 1 s: registry.HELD_AT_MOST)
BOUND = 20  # seconds any wait of these tests may take at most


class GatedExecutor(LocalExecutor):
    """A real pool whose hand-over (`hand_over`) or whose workers' taking of a run (`take`) waits for a gate."""

    def __init__(self, gate_on, **kwargs):
        super().__init__(**kwargs)
        self.gate, self.gate_on = threading.Event(), gate_on
        self.handed = threading.Event()  # submit_many was called

    def submit_many(self, executions, on_start, on_finish):
        self.handed.set()
        if self.gate_on == "hand_over":
            assert self.gate.wait(BOUND)
        return super().submit_many(executions, on_start, on_finish)

    def _next_job(self):
        return super()._next_job() if self.gate_on != "take" or self.gate.is_set() else None

    def open(self):
        self.gate.set()
        with self._cond:
            self._cond.notify_all()


def held(make_execution, executor, script, **env):
    """A run held for a slot LEAD s away and prepared (its shepherd started, its script's process set up) as
    the engine prepares it while it waits for the slot: (dispatcher, run, slot as a monotonic time, ends)."""
    run = make_execution(script, trigger="schedule", task_fast_start=True, task_env=env)
    ended = threading.Event()
    dispatcher = Dispatcher(RunRegistry(), executor, Journal(), ended)
    slot = timezone.now() + timedelta(seconds=LEAD)
    run.scheduled_time = slot
    dispatcher.carry_out(type("Plan", (), {"stop": [], "unwait": [], "wait": [], "run": [run], "notify": []})())
    dispatcher.prepare_held()
    assert run._preparation.link is not None  # its shepherd started ahead
    return dispatcher, run, time.monotonic() + (slot.timestamp() - time.time()), ended


def finished(dispatcher, ended):
    assert ended.wait(BOUND), "the run's end"
    ((_, result),) = dispatcher.take_finished()
    return result


def test_a_held_runs_script_starts_at_its_slot_while_its_hand_over_to_the_executor_is_still_blocked(
        make_execution, tmp_path):
    executor = GatedExecutor("hand_over", max_workers=1)
    dispatcher, run, slot, ended = held(make_execution, executor, "stamp.py", STAMP_DIR=str(tmp_path), SLEEP="0")
    start = tmp_path / f"{run.pk}.start"

    wait_for(start.exists, BOUND, interval=0.01, what="the script's start, told by the slot watch")

    # The hand-over comes after the "go" (and the log line): the script may start before it is even asked for.
    assert executor.handed.wait(BOUND)
    assert not executor.gate.is_set()  # no executor thread has the run yet: the slot watch started the script
    assert float(start.read_text()) >= slot - 0.005  # not before its slot (the clocks compared to within 5 ms)
    executor.open()
    result = finished(dispatcher, ended)
    assert result.status == "success" and result.pid is not None
    # Its start is the "go", not the moment an executor thread took the run.
    assert abs(result.start_time.timestamp() - run.scheduled_time.timestamp()) < 0.5
    dispatcher.close()
    executor.shutdown(1)


def test_a_held_run_stopped_after_its_script_was_told_to_start_ends_as_a_started_run(make_execution, tmp_path):
    ready = tmp_path / "ready"
    executor = GatedExecutor("take", max_workers=1)
    dispatcher, run, _, ended = held(make_execution, executor, "sleeper.py", READY_FILE=str(ready))
    wait_for(ready.exists, BOUND, interval=0.01, what="the script's start while its run waits for a worker")

    dispatcher.stop(run.pk, "by bob", who="bob")  # the run is in the executor's queue, its script running
    executor.open()

    result = finished(dispatcher, ended)
    assert result.status == "stopped" and result.error_message == "stopped: by bob"
    assert result.pid is not None and result.return_code == -15  # ended by its shepherd, not dropped unstarted
    dispatcher.close()
    executor.shutdown(1)


def test_a_held_runs_script_waits_for_a_worker_when_every_worker_is_busy_at_its_slot(make_execution, tmp_path):
    busy_ready, ready = tmp_path / "busy", tmp_path / "ready"
    executor = GatedExecutor("none", max_workers=1)
    busy = make_execution("sleeper.py", task_env={"READY_FILE": str(busy_ready)})
    executor.submit(busy, None, lambda *_: None)
    wait_for(busy_ready.exists, BOUND, interval=0.01, what="the run taking the only worker")
    dispatcher, run, _, ended = held(make_execution, executor, "sleeper.py", READY_FILE=str(ready), SLEEP="0")

    assert executor.handed.wait(BOUND)
    wait_for(lambda: run.pk in executor.running(), BOUND, interval=0.01, what="the hand-over")

    assert not preparation.went(run)  # the executor's queue holds it; no script runs beyond the pool's size
    assert not ready.exists()
    executor.stop(busy.pk, "make room")
    result = finished(dispatcher, ended)
    assert result.status == "success" and Path(ready).exists()
    dispatcher.close()
    executor.shutdown(1)


def test_a_wall_clock_set_back_while_the_slot_watch_is_awake_for_a_slot_does_not_keep_it_spinning(
        make_execution, tmp_path, monkeypatch):
    """The slot watch stays awake for the last moments before a held run's slot: set back by an hour then, the
    clock would keep it spinning for that hour. Held for longer than a run may be, the run starts at once."""
    import time_machine

    from tasks_app.engine import dispatch

    class Spy:
        """The dispatch module's `time`, telling when the watch first yields in its awake wait."""
        awake = threading.Event()

        def __getattr__(self, name):
            return getattr(time, name)

        def sleep(self, seconds):
            if seconds == 0:
                self.awake.set()
            time.sleep(seconds)

    # Awake for most of the lead, so the clock surely moves while the watch is awake.
    monkeypatch.setattr(dispatch, "AWAKE_BEFORE", LEAD - 0.1)
    monkeypatch.setattr(dispatch, "time", Spy())
    executor = GatedExecutor("none", max_workers=1)
    dispatcher, run, _, ended = held(make_execution, executor, "stamp.py", STAMP_DIR=str(tmp_path), SLEEP="0")
    assert Spy.awake.wait(BOUND), "the slot watch awake before the slot"
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=True):
        wait_for((tmp_path / f"{run.pk}.start").exists, BOUND, interval=0.01, what="the run's start")
        result = finished(dispatcher, ended)
    assert result.status == "success"
    dispatcher.close()
    executor.shutdown(1)
