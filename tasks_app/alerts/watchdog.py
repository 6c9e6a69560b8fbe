"""The web process's watchdog: it notices what the scheduler cannot tell when it is dead. Every
SCHEDULER_WATCH_INTERVAL seconds it reads the scheduler's lease, its heartbeat in the database
(SCHEDULER_DOWN_AFTER seconds without one: an alert to the default channels) and the slots every task should have
started by now (TaskStatus.next_run_time passed more than its task_misfire_grace ago: a missed-run alert naming
the slot), then sends the notices due.

Several web processes (gunicorn workers, machines) each run one: they never alert twice, because each alert
belongs to an incident row that only one of them can insert while it is open (incidents.open_incident), and a
notice is sent by whoever claims it (outbox.claim). The thread is started by the WSGI application
(scheduler_site/wsgi.py), so management commands and tests never start it, and it is a daemon: it dies with its
process and holds nothing that must be finished."""
import logging
import random
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from tasks_app.models import IncidentKind, SchedulerLease, TaskStatus

from . import incidents, outbox, rules

log = logging.getLogger("WebInterface")
MIN_GRACE = rules.MISSED_AFTER_AT_LEAST
_started = threading.Event()


def check_scheduler(now) -> bool:
    """Alert (once) when the scheduler has not been seen for SCHEDULER_DOWN_AFTER seconds; resolve the incident
    when it is seen again. Returns whether it is down. No lease at all: no scheduler was ever started here,
    which is not an outage. A standby taking over within SCHEDULER_DOWN_AFTER is no outage either."""
    lease = SchedulerLease.objects.current()
    if lease is None or not lease.holder:
        return False
    after = settings.SCHEDULER_DOWN_AFTER
    stopped = lease.released_at is not None
    down = not lease.alive(now) and (stopped or now - lease.renewed_at > timedelta(seconds=after))
    if down:
        incidents.scheduler_down(lease.renewed_at, stopped, after)
    else:
        incidents.resolve(IncidentKind.SCHEDULER_DOWN, key=incidents.SCHEDULER_KEY)
    return bool(down)


def check_missed(now) -> int:
    """Open a missed incident (and alert) for each enabled task whose next slot passed without the scheduler
    firing it; returns how many this call opened."""
    opened = 0
    late = (TaskStatus.objects.filter(task__task_enabled=True, next_run_time__lt=now - timedelta(seconds=MIN_GRACE))
            .exclude(task__task_schedule="").select_related("task"))
    for status in late:
        task = status.task
        grace = max(MIN_GRACE, task.task_misfire_grace)
        if now - status.next_run_time <= timedelta(seconds=grace):
            continue
        if status.next_run_time <= task.updated_at:
            continue  # scheduled before the task's last change: the scheduler has not read it yet
        reason = f"the scheduler did not start it within {grace} s of its slot"
        if incidents.missed(task, status.next_run_time, reason) is not None:
            opened += 1
    return opened


def check(now=None) -> None:
    """One round: the scheduler, the missed slots, then every notice that is due (retries included)."""
    now = now or timezone.now()
    check_scheduler(now)
    check_missed(now)
    outbox.send_due(timezone.now())


def _loop(interval):
    # Spread the processes' rounds, so several web processes do not all query at the same moment.
    wait = random.uniform(0, interval)
    while True:
        threading.Event().wait(wait)
        close_old_connections()
        try:
            check()
        except Exception:
            log.exception("The watchdog's round failed; trying again in %s s", interval)
        finally:
            close_old_connections()
        wait = interval


def start() -> bool:
    """Start this process's watchdog thread (once; not when SCHEDULER_WATCH_INTERVAL is 0)."""
    interval = settings.SCHEDULER_WATCH_INTERVAL
    if not interval or _started.is_set():
        return False
    _started.set()
    threading.Thread(target=_loop, args=(interval,), name="watchdog", daemon=True).start()
    log.info("Watchdog started: the scheduler's heartbeat and missed runs checked every %s s", interval)
    return True
