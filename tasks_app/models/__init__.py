from .alerting import AlertEvent, Incident, IncidentKind, Notice, NoticeStatus, TaskAlertState
from .apikey import ApiKey
from .backfill import Backfill
from .calendar import CALENDAR_NAME_PATTERN, Calendar, CalendarRule, DayVerdict, calendar_exists, calendar_named
from .channel import CHANNEL_NAME_PATTERN, Channel
from .change import ConfigVersion
from .execution import ExecutionStatus, TaskExecution, Trigger
from .hook import TriggerToken
from .logchunk import ChunkFile, ExecutionLogChunk, LogStream
from .pause import Pause
from .task import NEVER_RUN, TASK_STATES, OverlapPolicy, Task, TaskStatus
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
    "ChunkFile",
    "ExecutionLogChunk",
    "LogStream",
    "Backfill",
    "CALENDAR_NAME_PATTERN",
    "Calendar",
    "CalendarRule",
    "DayVerdict",
    "calendar_exists",
    "calendar_named",
    "ConfigVersion",
    "ExecutionStatus",
    "NEVER_RUN",
    "OverlapPolicy",
    "Pause",
    "TASK_STATES",
    "Task",
    "TaskExecution",
    "TaskStatus",
    "Trigger",
    "TriggerToken",
    "Worker",
]
