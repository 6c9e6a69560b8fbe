"""`manage.py check` warnings about how runs are confined."""
import os

from django.conf import settings
from django.core.checks import Warning, register

RUNS_AS_ROOT = "tasks_app.W001"


@register("security", deploy=False)
def runs_would_run_as_root(app_configs=None, **kwargs):
    """Task scripts would run as root: every operator who may edit a task could then act as root."""
    if os.geteuid() != 0 or settings.SCHEDULER_RUN_AS:
        return []
    return [Warning(
        "Task scripts would run as root: the scheduler runs as root and SCHEDULER_RUN_AS is not set.",
        hint=("Set SCHEDULER_RUN_AS to an unprivileged user (for example SCHEDULER_RUN_AS=scheduler). Where "
              f"running scripts as root is wanted (a throwaway CI container), silence it with "
              f"DJANGO_SILENCED_SYSTEM_CHECKS={RUNS_AS_ROOT}."),
        id=RUNS_AS_ROOT,
    )]
