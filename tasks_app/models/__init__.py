from .apikey import ApiKey
from .change import ConfigVersion
from .execution import ExecutionStatus, TaskExecution, Trigger
from .task import NEVER_RUN, TASK_STATES, OverlapPolicy, Task, TaskStatus
from .worker import Worker

__all__ = [
    "ApiKey",
    "ConfigVersion",
    "ExecutionStatus",
    "NEVER_RUN",
    "OverlapPolicy",
    "TASK_STATES",
    "Task",
    "TaskExecution",
    "TaskStatus",
    "Trigger",
    "Worker",
]
