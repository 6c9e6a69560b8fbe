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
from .tally import ExecutionTally, IncidentTally, TallyMark
from .task import NEVER_RUN, TASK_STATES, OverlapPolicy, Task, TaskStatus, state_of, zone_name
from .scheduler import SchedulerLease
from .worker import Worker

__all__ = [
    "AlertEvent",
    "CHANNEL_NAME_PATTERN",
    "Channel",
    "Incident",
    "IncidentTally",
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
    "ExecutionTally",
    "NEVER_RUN",
    "OverlapPolicy",
    "Pause",
    "SchedulerLease",
    "TASK_STATES",
    "Task",
    "TaskExecution",
    "TaskStatus",
    "TallyMark",
    "Trigger",
    "TriggerToken",
    "Worker",
    "state_of",
    "zone_name",
]
