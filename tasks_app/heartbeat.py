"""The scheduler's heartbeat: a small file in CONF_DIR that the running scheduler rewrites every few seconds
(who runs, since when, last seen when). The next scheduler reads it to know since when slots were missed; the web
process reads it to tell that the scheduler is down."""
import json
import logging
import os
from datetime import datetime

from django.conf import settings
from django.utils import timezone

log = logging.getLogger("SchedulerEngine")

HEARTBEAT_NAME = "scheduler.heartbeat.json"


def heartbeat_path():
    return settings.CONF_DIR / HEARTBEAT_NAME


def write_heartbeat(worker: str, started_at: datetime, stopped: bool = False) -> None:
    """Atomically replace the heartbeat file: who runs, since when, last seen when (aware UTC, ISO)."""
    path = heartbeat_path()
    data = {"worker": worker, "pid": os.getpid(), "started_at": started_at.isoformat(),
            "last_seen": timezone.now().isoformat(), "stopped": stopped}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("Could not write the heartbeat file %s: %s", path, exc)


def read_heartbeat() -> dict | None:
    """The last heartbeat with last_seen / started_at as datetimes, or None if there is none."""
    try:
        data = json.loads(heartbeat_path().read_text())
        data["last_seen"] = datetime.fromisoformat(data["last_seen"])
        data["started_at"] = datetime.fromisoformat(data["started_at"])
        return data
    except (OSError, ValueError, KeyError, TypeError):
        return None
