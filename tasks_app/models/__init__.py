from .apikey import ApiKey
from .change import ConfigVersion
from .execution import ExecutionStatus, TaskExecution, Trigger
from .task import OverlapPolicy, Task, TaskStatus

__all__ = [
    "ApiKey",
    "ConfigVersion",
    "ExecutionStatus",
    "OverlapPolicy",
    "Task",
    "TaskExecution",
    "TaskStatus",
    "Trigger",
]
