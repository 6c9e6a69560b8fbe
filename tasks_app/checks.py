"""`manage.py check` warnings about what the database holds: tasks whose task_env holds a name that is now
refused (saved before the rule existed), whose runs fail with an error naming the key until they are edited;
business calendars in use that have no data for this year or, from the autumn, for the next.
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


AUTUMN = 9  # the month from which next year's Chinese working days are due (published in the autumn before)


def calendars_missing_data() -> list:
    """[(calendar, year)] for the calendars in use (by a task, or as the base of a custom calendar a task names)
    that have no data for this year, or, from September, for next year: their days fall back to Monday to Friday."""
    from django.utils import timezone

    from . import workdays
    from .models import Calendar, Task

    try:
        named = set(Task.objects.exclude(task_calendar="").values_list("task_calendar", flat=True))
        bases = dict(Calendar.objects.filter(name__in=named).values_list("name", "base"))
    except DatabaseError:
        return []
    in_use = {bases.get(name, name) for name in named} - {""}
    today = timezone.now().date()
    years = [today.year] + ([today.year + 1] if today.month >= AUTUMN else [])
    return [(name, year) for name in sorted(in_use) for year in years
            if workdays.is_builtin(name) and not workdays.has_data(name, year)]


def calendar_data_warnings() -> list:
    """manage.py check's warnings for calendars_missing_data()."""
    found = calendars_missing_data()
    return [checks.Warning(
        f"Calendar {name} has no data for {year}: tasks on it will run on that year's working week (Monday to "
        "Friday, or the country's), whatever the holidays and make-up working days are.",
        hint="Install the chinesecalendar (cn-*) or holidays (other countries) release that knows the year (pip "
             "install -U, then pin it in requirements.txt) and restart the scheduler; see the README's Business "
             "calendars.",
        id="tasks_app.W003",
    ) for name, year in found]


@checks.register("tasks")
def calendars_without_data(app_configs=None, databases=None, **kwargs):
    return calendar_data_warnings()
