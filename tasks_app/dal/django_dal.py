"""TaskDataAccess over the Django models: what the running system uses."""
from django.db import transaction

from tasks_app.definition.fields import FIELD, TASK_FIELDS
from tasks_app.models import ConfigVersion, TaskExecution, TaskStatus
from tasks_app.models import Task as TaskModel

from . import domain
from .base import TaskDataAccess, TaskNotFound, as_utc, check_status_update, empty_status, unknown_execution

EXECUTION_FIELDS = ("start_time", "end_time", "status", "return_code", "error_message", "duration",
                    "scheduled_time", "trigger", "attempt")
EXECUTION_TIME_FIELDS = ("start_time", "end_time", "scheduled_time")


def task_to_domain(obj: TaskModel) -> domain.Task:
    return domain.Task(**{name: getattr(obj, name) for name in TASK_FIELDS})


def apply_task_fields(obj: TaskModel, data: dict):
    """Copy a task's fields (a domain.Task dict) onto a model instance; None means 'default' for the fields
    where None is not a value of its own."""
    for name in TASK_FIELDS:
        if name == "task_id" or name not in data:
            continue
        value = data[name]
        if value is None and not FIELD[name].nullable:
            value = TaskModel._meta.get_field(name).get_default()
        setattr(obj, name, value)


def execution_to_domain(obj: TaskExecution, task_id=None) -> domain.TaskExecution:
    return domain.TaskExecution(
        task_id=task_id or obj.task.task_id,
        execution_id=obj.execution_id,
        start_time=obj.start_time,
        end_time=obj.end_time,
        status=obj.status,
        return_code=obj.return_code,
        error_message=obj.error_message or None,
        duration=obj.duration,
        scheduled_time=obj.scheduled_time,
        trigger=obj.trigger,
        attempt=obj.attempt,
    )


def status_to_dict(obj: TaskStatus | None) -> dict:
    if obj is None:
        return empty_status()
    return {
        "running": obj.running,
        "last_execution_id": obj.last_execution_id,
        "last_status": obj.last_status or None,
        "last_start_time": obj.last_start_time,
        "last_end_time": obj.last_end_time,
        "next_run_time": obj.next_run_time,
    }


class DjangoTaskDataAccess(TaskDataAccess):
    def get_all_tasks(self):
        return [task_to_domain(obj) for obj in TaskModel.objects.order_by("task_id")]

    def get_task_by_id(self, task_id):
        obj = TaskModel.objects.filter(task_id=task_id).first()
        return task_to_domain(obj) if obj else None

    def save_task(self, task):
        # Also bumps the change marker, so the scheduler notices a task saved through the DAL.
        data = task.to_dict()
        with transaction.atomic():
            obj = TaskModel.objects.select_for_update().filter(task_id=task.task_id).first()
            if obj is None:
                obj = TaskModel(task_id=task.task_id)
            apply_task_fields(obj, data)
            obj.save()
            TaskStatus.objects.get_or_create(task=obj)
            # The scheduler compares this marker on every tick to notice configuration changes.
            ConfigVersion.bump()
        return task_to_domain(obj)

    def delete_task(self, task_id):
        with transaction.atomic():
            deleted, _ = TaskModel.objects.filter(task_id=task_id).delete()
            if deleted:
                ConfigVersion.bump()
        return bool(deleted)

    def get_task_history(self, task_id, limit=10):
        rows = TaskExecution.objects.filter(task__task_id=task_id).order_by("-execution_id")[:limit]
        return [execution_to_domain(obj, task_id) for obj in rows]

    def save_task_execution(self, execution):
        values = {name: getattr(execution, name) for name in EXECUTION_FIELDS}
        for name in EXECUTION_TIME_FIELDS:
            if values[name] is not None:
                values[name] = as_utc(values[name], name)
        values["error_message"] = values["error_message"] or ""
        task = TaskModel.objects.filter(task_id=execution.task_id).first()
        if task is None:
            raise TaskNotFound(execution.task_id)
        if execution.execution_id is None:
            obj = TaskExecution.objects.create(task=task, **values)
            execution.execution_id = obj.execution_id
        else:
            # Never INSERT a chosen id: on PostgreSQL that would leave the id sequence behind.
            if not TaskExecution.objects.filter(execution_id=execution.execution_id).update(task=task, **values):
                raise ValueError(unknown_execution(execution.execution_id))
            obj = TaskExecution.objects.get(execution_id=execution.execution_id)
        return execution_to_domain(obj, execution.task_id)

    def get_task_status(self, task_id):
        task = TaskModel.objects.filter(task_id=task_id).select_related("status").first()
        if task is None:
            return None
        return status_to_dict(getattr(task, "status", None))

    def update_task_status(self, task_id, status):
        status = check_status_update(dict(status))
        with transaction.atomic():
            task = TaskModel.objects.filter(task_id=task_id).first()
            if task is None:
                raise TaskNotFound(task_id)
            obj, _ = TaskStatus.objects.select_for_update().get_or_create(task=task)
            if "last_execution_id" in status:
                execution_id = status["last_execution_id"]
                if execution_id is not None and not TaskExecution.objects.filter(
                    execution_id=execution_id, task=task
                ).exists():
                    raise ValueError(f"last_execution_id: no execution {execution_id!r} of task {task_id!r}")
                obj.last_execution_id = execution_id
            for name in ("running", "last_start_time", "last_end_time", "next_run_time"):
                if name in status:
                    setattr(obj, name, status[name])
            if "last_status" in status:
                obj.last_status = status["last_status"] or ""
            obj.save()
        return status_to_dict(obj)
