"""Who schedules, as /metrics tells it: the scheduler that holds the lease (models.SchedulerLease, renewed every
SCHEDULER_HEARTBEAT_SECONDS), whether it leads, and its last heartbeat. Read here and nowhere else in metrics/."""
from dataclasses import dataclass
from datetime import datetime

from tasks_app.models import SchedulerLease


@dataclass(frozen=True)
class SchedulerSeen:
    name: str
    leading: bool
    last_heartbeat: datetime


def schedulers_seen() -> list[SchedulerSeen]:
    """The schedulers known: the lease's holder (a standby holds nothing until it takes over), judged by the
    database's clock as /healthz/scheduler judges it; none while no scheduler has ever run on this database."""
    lease = SchedulerLease.objects.current()
    if lease is None or not lease.holder:
        return []
    return [SchedulerSeen(name=lease.holder, leading=lease.alive(), last_heartbeat=lease.renewed_at)]
