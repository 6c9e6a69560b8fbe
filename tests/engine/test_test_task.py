"""The shipped test-task (`*/3 * * * *`, tasks/test_task.py) through the engine: it fires on every
third minute (two slots in a row, reached with time-machine instead of waiting six minutes), ends success
after about 2 s, and its task log holds each parameter line exactly as often as the script logs it."""
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from django.conf import settings

from tasks_app.models import ExecutionStatus, TaskExecution, TaskStatus

from .conftest import wait_for

UTC = timezone.utc
SHIPPED = json.loads((Path(settings.BASE_DIR) / "conf" / "tasks.json").read_text(encoding="utf-8"))["tasks"][0]


def test_the_shipped_test_task_fires_every_third_minute_on_the_minute(start_engine, settings, time_machine):
    settings.TASKS_DIR = Path(settings.BASE_DIR) / "tasks"
    assert SHIPPED["task_id"] == "test-task" and SHIPPED["task_schedule"] == "*/3 * * * *"
    from tasks_app.services.tasks import create_task

    slot = (datetime.now(UTC) + timedelta(minutes=4)).replace(second=0, microsecond=0)
    while slot.minute % 3:
        slot += timedelta(minutes=1)
    time_machine.move_to(slot - timedelta(seconds=0.8), tick=True)
    task = create_task(dict(SHIPPED, task_retry=0), actor="test", via="cli")
    start_engine()

    fired = []
    for n in range(2):
        this_slot = slot + timedelta(minutes=3 * n)
        if n:
            time_machine.move_to(this_slot - timedelta(seconds=0.8), tick=True)
        run = wait_for(lambda: TaskExecution.objects.filter(task=task, scheduled_time=this_slot).first(), 3,
                       what=f"the {this_slot:%H:%M} slot")
        done = wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status__in=ExecutionStatus.finished())
                        .first(), 10, what="the run to end")
        fired.append(done)
        lateness = (done.start_time - this_slot).total_seconds()
        assert 0 <= lateness < 1.0, f"started {lateness:.3f} s after {this_slot:%H:%M}"
        assert done.status == ExecutionStatus.SUCCESS and done.trigger == "schedule"
        assert 1.9 <= done.duration <= 4.0, done.duration
        assert TaskStatus.objects.get(task=task).next_run_time == this_slot + timedelta(minutes=3)

    assert [f.scheduled_time.minute % 3 for f in fired] == [0, 0]
    assert TaskExecution.objects.filter(task=task).count() == 2
    log_text = (Path(settings.LOGS_DIR) / "task_test-task.log").read_text(encoding="utf-8")
    for name, value in SHIPPED["task_env"].items():
        # test_task.py logs each parameter twice per run: in its config block and in its environment list.
        assert log_text.count(f"{name} = {value}") == 2 * 2, name
    for run in fired:
        assert log_text.count(f"Execution {run.pk} starting") == 1
        assert log_text.count(f"Execution {run.pk} finished: success") == 1
