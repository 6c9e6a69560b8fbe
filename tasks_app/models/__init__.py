from .alerting import AlertEvent, Incident, IncidentKind, Notice, NoticeStatus, TaskAlertState
from .apikey import ApiKey
from .channel import CHANNEL_NAME_PATTERN, Channel
from .change import ConfigVersion
from .execution import ExecutionStatus, TaskExecution, Trigger
from .task import NEVER_RUN, TASK_STATES, OverlapPolicy, Task, TaskStatus
from .scheduler import SchedulerLease
from .worker import Worker

__all__ = [
    "AlertEvent",
    "CHANNEL_NAME_PATTERN",
    "Channel",
    "Incident",
    "IncidentKind",
    "Notice",
    "NoticeStatus",
    "TaskAlertState",
    "ApiKey",
    "ConfigVersion",
    "ExecutionStatus",
    "NEVER_RUN",
    "OverlapPolicy",
    "SchedulerLease",
    "TASK_STATES",
    "Task",
    "TaskExecution",
    "TaskStatus",
    "Trigger",
    "Worker",
]
