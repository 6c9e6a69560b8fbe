"""The plain records the data access layer speaks, Task and TaskExecution, so business logic does not depend on
where tasks are stored (the Django models or the JSON files export writes). Task's fields come from the field
table (definition/fields.py)."""
import dataclasses
from dataclasses import dataclass
from datetime import datetime

from tasks_app.definition.fields import FIELDS, default_log_path, task_to_dict

_PYTHON_TYPES = {"integer": int, "boolean": bool, "id_list": list, "text_map": dict, "object": dict}


def _attribute(field):
    kind = _PYTHON_TYPES.get(field.kind, str)
    kind = kind | None if field.nullable else kind
    if field.required:
        return field.name, kind
    return field.name, kind, dataclasses.field(default_factory=field.fresh_default)


def _post_init(task):
    if not task.task_log:
        task.task_log = default_log_path(task.task_id)


# Required fields first: a dataclass wants them before those with defaults.
Task = dataclasses.make_dataclass(
    "Task",
    [_attribute(f) for f in FIELDS if f.required] + [_attribute(f) for f in FIELDS if not f.required],
    namespace={"__post_init__": _post_init, "to_dict": task_to_dict, "__module__": __name__,
               "__doc__": "A task's configuration: every field of the field table, task_log filled in."},
)


@dataclass
class TaskExecution:
    task_id: str
    execution_id: int | None
    start_time: datetime | None
    end_time: datetime | None = None
    status: str = "running"
    return_code: int | None = None
    error_message: str | None = None
    duration: float | None = None
    scheduled_time: datetime | None = None
    trigger: str = "schedule"
    attempt: int = 1

