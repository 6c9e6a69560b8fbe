"""The design document's plain data classes: Task, TaskExecution and TaskConfig.

The data access layer speaks these, so business logic does not depend on where tasks are stored
(the Django models or the JSON files of the document).
"""
from dataclasses import asdict, dataclass, field
from datetime import datetime

from tasks_app.definition.fields import TASK_FIELDS


@dataclass
class Task:
    task_id: str
    task_name: str
    task_exec: str
    task_schedule: str
    task_desc: str = ""
    task_timeout: int | None = None
    task_retry: int = 0
    task_retry_interval: int = 60
    task_enabled: bool = True
    task_log: str = ""
    task_env: dict = field(default_factory=dict)
    task_dependencies: list = field(default_factory=list)
    task_notify: dict = field(default_factory=dict)
    task_timezone: str = ""
    task_overlap: str = "skip"
    task_misfire_grace: int = 60

    def __post_init__(self):
        if not self.task_log:
            self.task_log = f"logs/task_{self.task_id}.log"

    @property
    def config(self):
        """The task's parameters (task_env) as the document's TaskConfig."""
        return TaskConfig(self.task_env)

    def to_dict(self):
        data = asdict(self)
        return {name: data[name] for name in TASK_FIELDS}


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


class TaskConfig:
    """The document's configuration wrapper (get / set / to_dict) over a dict of parameters."""

    def __init__(self, config_dict=None):
        self.config = config_dict if config_dict is not None else {}

    def get(self, key, default=None):
        return self.config.get(key, default)

    def set(self, key, value):
        self.config[key] = value

    def to_dict(self):
        return self.config
