"""Which scheduler leads, and whether it is alive: one lease row in the database that the leading `runscheduler`
renews every SCHEDULER_HEARTBEAT_SECONDS, so that standbys, web nodes and probes on any machine ask the same
question of the same record. Times are written and judged with the database's clock, so machines whose clocks
disagree still agree on who leads."""
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

LEASE_NAME = "scheduler"
HEARTBEATS_PER_LEASE = 3  # a leader silent for three heartbeats has lost its lease


def lease_length() -> timedelta:
    return timedelta(seconds=settings.SCHEDULER_HEARTBEAT_SECONDS * HEARTBEATS_PER_LEASE)


class SchedulerLeaseQuerySet(models.QuerySet):
    def current(self):
        """The lease row with `db_now` (the database's clock), or None when no scheduler ever ran here."""
        return self.filter(name=LEASE_NAME).annotate(db_now=Now()).first()

    def leader(self):
        """The lease of the scheduler that leads now (renewed, not expired, not released), else None."""
        lease = self.current()
        return lease if lease is not None and lease.alive() else None


class SchedulerLease(models.Model):
    name = models.CharField(max_length=50, primary_key=True, default=LEASE_NAME)
    # "<host>:<pid>", as TaskExecution.worker names the scheduler that claimed a run.
    holder = models.CharField(max_length=100, blank=True, default="")
    host = models.CharField(max_length=255, blank=True, default="")
    pid = models.PositiveIntegerField(default=0)
    token = models.CharField(max_length=32, blank=True, default="")  # one engine's claim (a random id)
    acquired_at = models.DateTimeField(help_text=_("When the holder took the lease"))
    renewed_at = models.DateTimeField(help_text=_("The holder's last heartbeat"))
    expires_at = models.DateTimeField(help_text=_("After this, another scheduler may take over"))
    released_at = models.DateTimeField(null=True, blank=True, help_text=_("When the holder stopped"))

    objects = SchedulerLeaseQuerySet.as_manager()

    def __str__(self):
        return f"{self.holder or '-'} until {self.expires_at:%Y-%m-%d %H:%M:%S}"

    def _now(self, now):
        return now or getattr(self, "db_now", None) or self.renewed_at

    def alive(self, now: datetime | None = None) -> bool:
        """The holder leads: it has not stopped and renewed within its lease (three heartbeats)."""
        return self.released_at is None and self.expires_at > self._now(now)

    def heartbeat_age(self, now: datetime | None = None) -> float:
        return max(0.0, (self._now(now) - self.renewed_at).total_seconds())

    def down_since(self, after: float, now: datetime | None = None) -> datetime | None:
        """When the last scheduler was last seen, if none has been alive for `after` seconds; else None."""
        now = self._now(now)
        if self.alive(now) or now - self.renewed_at <= timedelta(seconds=after):
            return None
        return self.renewed_at

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC"
