"""Shared steps of the alert tests: a channel pointed at the stand-in server, runs of a task through the real
engine with a chosen exit code, and waiting for what the notices' pool does."""
from tasks_app.models import ConfigVersion, Notice, Task, TaskAlertState, TaskExecution
from tasks_app.services.channels import create_channel
from tasks_app.services.executions import run_now
from tests.engine.conftest import wait_for


def json_channel(name="ops", **fields):
    """A JSON-webhook channel (its plugin posts {"title", "message", ...}); the stand-in answers it."""
    return create_channel({"name": name, "url": f"jsons://hooks.example.com/{name}", **fields}, actor="alice",
                          via="api")


def run_with_exit(task, code, sleep=0):
    """One run of sleep.py that exits with `code`; returns the ended execution."""
    Task.objects.filter(pk=task.pk).update(task_env={"SLEEP": str(sleep), "EXIT": str(code)})
    ConfigVersion.bump()
    queued = run_now(Task.objects.get(pk=task.pk), actor="alice", via="api")
    done = wait_for(lambda: TaskExecution.objects.filter(pk=queued.pk).exclude(status__in=["queued", "running"])
                    .first(), 20, what=f"run {queued.pk} to end")
    # The alerts of an end are worked out in the notices' pool, after the end is recorded.
    wait_for(lambda: _counted(task, done), 10, what=f"the alerts of run {done.pk}")
    return done


def _counted(task, execution):
    return TaskAlertState.objects.filter(task_id=task.pk, last_execution_id=execution.pk).exists()


def notices(task=None, **filters):
    rows = Notice.objects.order_by("id")
    if task is not None:
        rows = rows.filter(task=task)
    return list(rows.filter(**filters))
