"""The data access interface (TaskDataAccess), so business logic does not care where tasks live.

Both implementations speak domain.Task, domain.TaskExecution and a status dict of this shape:

    {
        "running": bool,
        "last_execution_id": int | None,
        "last_status": str | None,          # an ExecutionStatus value, None before the first run
        "last_start_time": datetime | None,  # aware UTC datetimes in Python,
        "last_end_time": datetime | None,    # ISO 8601 strings with offset in conf/task_status.json
        "next_run_time": datetime | None,
    }
"""
from abc import ABC, abstractmethod
from datetime import datetime, timezone

STATUS_FIELDS = (
    "running",
    "last_execution_id",
    "last_status",
    "last_start_time",
    "last_end_time",
    "next_run_time",
)
STATUS_TIME_FIELDS = ("last_start_time", "last_end_time", "next_run_time")


class TaskNotFound(LookupError):
    def __init__(self, task_id):
        self.task_id = task_id
        super().__init__(f"task_id: no task {task_id!r}")


def unknown_execution(execution_id) -> str:
    return f"execution_id: no execution {execution_id!r} to update; leave execution_id None to add one"


def empty_status() -> dict:
    return {"running": False, "last_execution_id": None, "last_status": None,
            "last_start_time": None, "last_end_time": None, "next_run_time": None}


def check_status_update(status: dict) -> dict:
    """Refuse unknown keys and naive times, so both implementations accept exactly the same updates."""
    unknown = sorted(set(status) - set(STATUS_FIELDS))
    if unknown:
        raise ValueError(f"status: unknown field(s) {', '.join(unknown)}; expected some of {', '.join(STATUS_FIELDS)}")
    for name in STATUS_TIME_FIELDS:
        if name in status and status[name] is not None:
            status[name] = as_utc(status[name], name)
    if "last_status" in status and status["last_status"] == "":
        status["last_status"] = None
    return status


def as_utc(value, field="time"):
    if not isinstance(value, datetime):
        raise ValueError(f"{field}: expected a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field}: {value.isoformat()} has no time zone; stored times are aware UTC")
    return value.astimezone(timezone.utc)


class TaskDataAccess(ABC):
    """Eight methods. get_* return None for an unknown task; writes to an unknown task
    raise TaskNotFound. The DAL only stores: validation (TaskLoader) and the conf/tasks.json mirror
    belong to the services that call it."""

    @abstractmethod
    def get_all_tasks(self) -> list:
        """All tasks (domain.Task), ordered by task_id."""

    @abstractmethod
    def get_task_by_id(self, task_id):
        """The domain.Task, or None."""

    @abstractmethod
    def save_task(self, task):
        """Create the task, or replace the one with the same task_id. Returns the saved domain.Task."""

    @abstractmethod
    def delete_task(self, task_id) -> bool:
        """Remove the task with its history and status; False if there was none."""

    @abstractmethod
    def get_task_history(self, task_id, limit=10) -> list:
        """The task's executions (domain.TaskExecution), newest first (highest execution_id), at most `limit`."""

    @abstractmethod
    def save_task_execution(self, execution):
        """Insert (execution_id None: a new id is assigned) or update an existing execution (an unknown id is
        a ValueError: ids are only ever assigned here). Returns it with its id."""

    @abstractmethod
    def get_task_status(self, task_id):
        """The status dict (see module docstring), or None for an unknown task."""

    @abstractmethod
    def update_task_status(self, task_id, status) -> dict:
        """Merge the given keys into the task's status; returns the whole status dict."""
