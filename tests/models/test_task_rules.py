"""The rules the pages, the API, the admin and the engine ask the models (Healthchecks' Check.get_status() way):
a task's next fire times and state, the task list's filters, and the end of a run's captured output."""
from datetime import datetime, timezone

import pytest

from tasks_app.models import NEVER_RUN, ExecutionStatus, Task, TaskExecution, TaskStatus

pytestmark = pytest.mark.django_db
AFTER = datetime(2024, 1, 1, 0, 0, tzinfo=timezone.utc)


def make(task_id, **fields):
    values = {"task_name": f"Task {task_id}", "task_exec": "tasks/test_task.py", "task_schedule": "0 9 * * *"}
    return Task.objects.create(task_id=task_id, **{**values, **fields})


def test_next_fire_times_are_read_in_the_tasks_zone_and_given_in_utc():
    task = make("shanghai", task_timezone="Asia/Shanghai")
    assert task.next_fire_times(2, AFTER) == [datetime(2024, 1, 1, 1, 0, tzinfo=timezone.utc),
                                              datetime(2024, 1, 2, 1, 0, tzinfo=timezone.utc)]
    assert task.next_run_time(AFTER) == datetime(2024, 1, 1, 1, 0, tzinfo=timezone.utc)


def test_a_disabled_task_a_chain_task_and_a_broken_stored_schedule_have_no_next_run():
    assert make("off", task_enabled=False).next_fire_times(3, AFTER) == []
    assert make("chain", task_schedule="").next_run_time(AFTER) is None
    assert make("broken", task_schedule="61 * * * *").next_run_time(AFTER) is None
    assert make("nowhere", task_timezone="Mars/Olympus").next_run_time(AFTER) is None


def test_next_fire_times_after_the_end_of_time_is_an_overflow_for_the_caller_to_refuse():
    with pytest.raises(OverflowError):
        make("late", task_schedule="* * * * *").next_fire_times(1, datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc))


def test_store_next_run_keeps_the_next_run_in_the_status_row():
    task = make("stored")
    task.store_next_run()
    assert TaskStatus.objects.get(task=task).next_run_time == task.next_run_time()
    task.task_enabled = False
    task.store_next_run()
    assert TaskStatus.objects.get(task=task).next_run_time is None


def test_the_state_is_running_while_a_run_runs_else_idle_or_disabled():
    idle, off = make("idle"), make("off", task_enabled=False)
    assert (idle.state, off.state, idle.current_status) == ("idle", "disabled", None)
    TaskStatus.objects.create(task=off, running=True)
    assert Task.objects.select_related("status").get(task_id="off").state == "running"


def test_the_task_list_filters_by_state_last_result_and_text():
    make("nightly-report", task_desc="Sends the numbers")
    running = make("busy")
    failed = make("broken-one", task_enabled=False)
    TaskStatus.objects.create(task=running, running=True, last_status=ExecutionStatus.SUCCESS)
    TaskStatus.objects.create(task=failed, last_status=ExecutionStatus.FAILED)

    def ids(queryset):
        return sorted(queryset.values_list("task_id", flat=True))

    assert ids(Task.objects.in_state("running")) == ["busy"]
    assert ids(Task.objects.in_state("idle")) == ["nightly-report"]
    assert ids(Task.objects.in_state("disabled")) == ["broken-one"]
    assert ids(Task.objects.in_state("")) == ["broken-one", "busy", "nightly-report"]
    assert ids(Task.objects.last_result("failed")) == ["broken-one"]
    assert ids(Task.objects.last_result(NEVER_RUN)) == ["nightly-report"]
    assert ids(Task.objects.search("NUMBERS")) == ["nightly-report"]
    assert ids(Task.objects.search("one").in_state("disabled").last_result("failed")) == ["broken-one"]


def test_the_output_tail_keeps_the_last_lines_or_bytes_and_says_whether_it_cut(settings):
    execution = TaskExecution.objects.create(task=make("chatty"), status=ExecutionStatus.SUCCESS)
    assert execution.output_tail(lines=3) == ("", False) and execution.output_tail(max_bytes=10) == ("", False)
    execution.output_path.parent.mkdir(parents=True)
    execution.output_path.write_text("".join(f"line {i}\n" for i in range(1, 6)), encoding="utf-8")
    assert execution.output_tail(lines=2) == ("line 4\nline 5", True)
    assert execution.output_tail(lines=5) == ("line 1\nline 2\nline 3\nline 4\nline 5\n", False)
    assert execution.output_tail(max_bytes=7) == ("line 5\n", True)
    assert execution.output_tail(max_bytes=1000) == (execution.read_output(), False)
    assert execution.read_output(tail_lines=1) == "line 5\n"
