"""Who schedules, as /metrics tells it: each scheduler known, whether it leads, and its last heartbeat. Read here
and nowhere else in metrics/, so that the standby scheduler's lease can take the heartbeat file's place."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from tasks_app.heartbeat import read_heartbeat

# The engine writes its heartbeat every 5 s: a leader missing three in a row leads no more.
FRESH_FOR = timedelta(seconds=15)


@dataclass(frozen=True)
class SchedulerSeen:
    name: str
    leading: bool
    last_heartbeat: datetime


def schedulers_seen(now=None) -> list[SchedulerSeen]:
    """The schedulers known (today: the one whose heartbeat file is there, if any)."""
    now = now or timezone.now()
    beat = read_heartbeat()
    if beat is None:
        return []
    last = beat["last_seen"]
    leading = not beat.get("stopped") and now - last <= FRESH_FOR
    return [SchedulerSeen(name=str(beat.get("worker") or "scheduler"), leading=leading, last_heartbeat=last)]
