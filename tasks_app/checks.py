"""`manage.py check` warnings about what the database holds: tasks whose task_env holds a name that is now
refused (saved before the rule existed). Their runs fail with an error naming the key until they are edited.
And one about the settings: task scripts that would run as root."""
from django.core import checks
from django.db import DatabaseError

from .definition.envnames import refused_env_names

SHOWN = 20  # tasks named in the message; the rest are counted


@checks.register("tasks")
def tasks_with_refused_env_names(app_configs=None, databases=None, **kwargs):
    from .models import Task

    try:
        rows = list(Task.objects.order_by("task_id").values_list("task_id", "task_env"))
    except DatabaseError:  # no tables yet (before migrate), or no database to reach: nothing to say
        return []
    found = [(task_id, refused_env_names(env if isinstance(env, dict) else {})) for task_id, env in rows]
    found = [(task_id, refused) for task_id, refused in found if refused]
    if not found:
        return []
    listed = "; ".join(f"{task_id} ({', '.join(sorted(name for name, _reason in refused))})"
                       for task_id, refused in found[:SHOWN])
    more = f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return [checks.Warning(
        f"{len(found)} task(s) hold task_env names that are refused: {listed}{more}. Their runs fail without "
        "starting.",
        hint="Remove these names from each task's task_env (task page, API or admin). What every run needs, "
             "such as a proxy or a PATH, an administrator sets with SCHEDULER_TASK_ENV.",
        id="tasks_app.W002",
    )]


RUNS_AS_ROOT = "tasks_app.W001"


@checks.register(checks.Tags.security)
def runs_would_run_as_root(app_configs=None, **kwargs):
    """Task scripts would run as root: every operator who may edit a task could then act as root."""
    import os

    from django.conf import settings

    if os.geteuid() != 0 or settings.SCHEDULER_RUN_AS:
        return []
    return [checks.Warning(
        "Task scripts would run as root: the scheduler runs as root and SCHEDULER_RUN_AS is not set.",
        hint=("Set SCHEDULER_RUN_AS to an unprivileged user (for example SCHEDULER_RUN_AS=scheduler). Where "
              f"running scripts as root is wanted (a throwaway CI container), silence it with "
              f"DJANGO_SILENCED_SYSTEM_CHECKS={RUNS_AS_ROOT}."),
        id=RUNS_AS_ROOT,
    )]
