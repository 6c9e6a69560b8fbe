"""The hand-over of a slot's runs to the executor in one call, and a run held for its slot prepared before it:
what it leaves behind when it never starts, and which definition it runs with when its task is edited meanwhile."""
import json
import logging
import os
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks_app.definition.paths import task_log_file
from tasks_app.engine import preparation
from tasks_app.engine.dispatch import Dispatcher
from tasks_app.engine.executor import LocalExecutor
from tasks_app.engine.registry import RunRegistry
from tasks_app.engine.runner import run_execution
from tasks_app.models import Task

from .helpers import open_files
from .test_executor import Recorder

pytestmark = pytest.mark.django_db


class Journal:
    def record(self, pk, pid):
        pass

    def done(self, pk):
        pass


class CountingExecutor(LocalExecutor):
    """A real pool that also remembers each call it was handed runs in."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def submit_many(self, executions, on_start, on_finish):
        self.calls.append([e.pk for e in executions])
        return super().submit_many(executions, on_start, on_finish)


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_the_runs_due_at_a_slot_go_to_the_executor_in_one_call_with_one_log_line(make_execution):
    runs = [make_execution("exit_one.py", trigger="schedule") for _ in range(5)]
    executor = CountingExecutor(max_workers=2)
    dispatcher = Dispatcher(RunRegistry(), executor, Journal(), threading.Event())
    plan = type("Plan", (), {"stop": [], "unwait": [], "wait": [], "run": runs, "notify": []})()
    handler, logger = Lines(), logging.getLogger("Scheduler")
    logger.addHandler(handler)
    try:
        slot = timezone.now() + timedelta(seconds=0.8)
        for execution in runs:
            execution.scheduled_time = slot
        dispatcher.carry_out(plan)
        assert executor.calls == []  # held for their slot
        dispatcher.prepare_held()
        # Prepared while the engine waits for the slot: the first 2 x max_workers, which start first.
        assert [preparation.is_prepared(e) for e in runs] == [True] * 4 + [False]
        dispatcher.release_held(wait=True)  # the slot watch hands them over at the slot meanwhile
        assert time.time() >= slot.timestamp()
    finally:
        logger.removeHandler(handler)

    assert executor.calls == [[e.pk for e in runs]]
    lines = [line for line in handler.lines if "start" in line]
    assert len(lines) == 1 and lines[0].startswith("5 executions start: schedule for slot")
    assert all(f"task {e.task.task_id} execution {e.pk}" in lines[0] for e in runs)
    deadline = time.monotonic() + 20
    finished = []
    while len(finished) < 5 and time.monotonic() < deadline:
        finished += dispatcher.take_finished()
        time.sleep(0.05)
    assert sorted(result.return_code for _, result in finished) == [1] * 5
    dispatcher.close()
    executor.shutdown(1)


def test_a_closed_executor_refuses_every_run_of_a_batch_and_each_is_reported_once(make_execution):
    runs = [make_execution("exit_one.py") for _ in range(3)]
    executor, rec = LocalExecutor(max_workers=2), Recorder()
    executor.shutdown(0)

    refused = executor.submit_many(runs, rec.on_start, rec.on_finish)

    assert [e.pk for e, _ in refused] == [e.pk for e in runs]
    assert all(isinstance(exc, RuntimeError) for _, exc in refused)


def test_a_run_handed_over_twice_in_one_batch_is_refused_the_second_time(make_execution):
    run = make_execution("exit_one.py")
    executor, rec = LocalExecutor(max_workers=1), Recorder()

    refused = executor.submit_many([run, run], None, rec.on_finish)

    assert len(refused) == 1 and isinstance(refused[0][1], ValueError)
    assert rec.wait_finished(1, 20)[run.execution_id][0].return_code == 1
    executor.shutdown(1)


def test_a_run_prepared_before_its_slot_and_stopped_before_it_leaves_no_process_file_or_handle(make_execution):
    run = make_execution("exit_one.py", trigger="schedule")
    executor = CountingExecutor(max_workers=1)
    dispatcher = Dispatcher(RunRegistry(), executor, Journal(), threading.Event())
    plan = type("Plan", (), {"stop": [], "unwait": [], "wait": [], "run": [run], "notify": []})()
    run.scheduled_time = timezone.now() + timedelta(seconds=0.9)  # held at most 1 s (registry.HELD_AT_MOST)

    dispatcher.carry_out(plan)
    dispatcher.prepare_held()  # while the engine waits for the slot
    assert str(run.output_path) in open_files()  # prepared: its output file is open
    shepherd = run._preparation.link.proc.pid  # and its shepherd started, waiting for its spec
    assert os.path.exists(f"/proc/{shepherd}")
    dispatcher.stop(run.pk, "by bob", who="bob")

    ((ended, result),) = dispatcher.take_finished()
    assert result.status == "stopped" and executor.calls == []
    assert not os.path.exists(f"/proc/{shepherd}")  # gone and reaped
    assert not run.output_path.exists()
    assert not task_log_file(run.task).exists()  # the task's first run: its empty log goes too
    assert str(run.output_path) not in open_files()
    dispatcher.close()
    executor.shutdown(0)


def test_a_prepared_run_handed_to_a_closed_executor_leaves_no_file_or_handle(make_execution):
    run = make_execution("exit_one.py")
    preparation.prepare_early(run)
    assert str(run.output_path) in open_files()
    executor = LocalExecutor(max_workers=1)
    executor.shutdown(0)
    dispatcher = Dispatcher(RunRegistry(), executor, Journal(), threading.Event())

    dispatcher._hand_over([run])

    ((_, result),) = dispatcher.take_finished()
    assert result.status == "failed" and "could not be handed to the executor" in result.error_message
    assert not run.output_path.exists() and str(run.output_path) not in open_files()


def test_a_task_edited_between_the_claim_and_the_slot_runs_as_it_was_when_claimed(make_execution, tmp_path):
    """The claim decides the run: its definition, prepared or not. The edit applies from the next run."""
    dump = tmp_path / "env.json"
    run = make_execution("dump_env.py", task_env={"ENV_DUMP": str(dump), "COLOUR": "blue"})
    preparation.prepare_early(run)
    Task.objects.filter(pk=run.task_id).update(task_env={"ENV_DUMP": str(dump), "COLOUR": "red"})

    result = run_execution(run)

    assert result.status == "success"
    assert json.loads(dump.read_text())["env"]["COLOUR"] == "blue"


def test_a_run_prepared_early_starts_with_what_it_would_have_been_given_at_its_spawn(make_execution, tmp_path):
    early, late = tmp_path / "early.json", tmp_path / "late.json"
    first = make_execution("dump_env.py", task_id="same-task", task_env={"ENV_DUMP": str(early)})
    preparation.prepare_early(first)
    assert run_execution(first).status == "success"
    second = make_execution("dump_env.py", task_id="same-task", task_env={"ENV_DUMP": str(late)})
    assert run_execution(second).status == "success"

    a, b = json.loads(early.read_text()), json.loads(late.read_text())
    for moving in ("TASK_EXECUTION_ID", "TASK_SCHEDULED_TIME", "ENV_DUMP"):  # a manual run's is its request time
        a["env"].pop(moving), b["env"].pop(moving)
    assert a == b
