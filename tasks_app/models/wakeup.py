"""Waking the scheduler at once after a write it must act on (a configuration change, a run now, a stop). On
PostgreSQL the write also sends NOTIFY on CHANNEL in its own transaction: PostgreSQL delivers it at commit and
never for a rollback, so the scheduler, which LISTENs, never wakes before the row is there to read. SQLite has no
such thing: there the scheduler checks `PRAGMA data_version`, which moves with every other connection's commit."""
from django.db import connections

CHANNEL = "tasks_scheduler_wake"


def wake_scheduler(reason: str, using: str = "default") -> None:
    """Tell a listening scheduler that `reason` ("config", "run", "stop") was written, at commit."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, reason])
