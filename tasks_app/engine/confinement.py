"""What runscheduler does before the engine starts so that every run is confined: the scheduler becomes a
child subreaper and non-dumpable, the run-as users are checked, the cgroup support is detected, and the
logs folder can be entered by run-as users (to write their own task logs), not listed."""
import logging
import os
from pathlib import Path

from django.conf import settings
from django.db.models import Q

from tasks_app.models import Task
from tasks_app.models.execution import describe_limits

from . import forkserver, identity, limits, subreaper

log = logging.getLogger("SchedulerEngine")


class ConfinementError(ValueError):
    """A setting that makes runs impossible to confine as configured; the message names it."""


def prepare_engine_process() -> None:
    try:
        users = identity.check_configuration()
    except identity.RunAsError as exc:
        raise ConfinementError(str(exc)) from None
    subreaper.harden_engine_process()
    defaults = limits.plan_for(None, 0, users[0] if users else None).record()  # also detects the cgroups
    if users:
        logs = Path(settings.LOGS_DIR)
        logs.mkdir(parents=True, exist_ok=True)
        os.chmod(logs, 0o711)
    log.info("Runs run as %s; default limits: %s", ", ".join(u.name for u in users) or identity.engine_user(),
             describe_limits(defaults))


def warm_up_fork_server() -> None:
    """Once leading, before the first claim (the engine calls it only with the local executor): the first run
    the zygote serves (fast start, or a command exec'd: forkserver.serves) need not wait for the zygote's start.
    Not before: the database may not be migrated yet (the engine's start checks it and says so), and a standby
    has nothing to start. Without such a task no zygote is started (one is when such a run is claimed)."""
    served = Q(task_fast_start=True) | ~Q(task_type__in=forkserver.runs_without_exec())
    if settings.SCHEDULER_FAST_START or Task.objects.filter(served).exists():
        forkserver.warm_up()
