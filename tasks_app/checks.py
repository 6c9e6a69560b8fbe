"""`manage.py check` warnings about what the database holds: tasks whose task_env holds a name that is now
refused (saved before the rule existed). Their runs fail with an error naming the key until they are edited."""
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
