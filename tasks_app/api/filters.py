"""Query parameters read strictly (a bad value is a 400 naming the parameter and the value, never a 500),
and the filters of the task list and of a task's executions."""
import zoneinfo
from datetime import datetime

from django.db.models import Q
from rest_framework import exceptions

from tasks_app.models import ExecutionStatus, Trigger

from .serializers import TASK_STATES

TEXT_MAX = 200


def _bad(name, message):
    return exceptions.ValidationError({name: [message]})


def _raw(request, name):
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if "\x00" in value:
        raise _bad(name, f"{name} must not contain a NUL character.")
    return value


def text_param(request, name, max_length=TEXT_MAX):
    value = _raw(request, name)
    if value is not None and len(value) > max_length:
        raise _bad(name, f"{name} is {len(value)} characters long; at most {max_length} are allowed.")
    return value


def int_param(request, name, default=None, minimum=None, maximum=None):
    value = _raw(request, name)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise _bad(name, f"{name} must be an integer, got {value[:40]!r}.") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise _bad(name, f"{name} must be between {minimum} and {maximum}, got {number}.")
    return number


def bool_param(request, name):
    value = _raw(request, name)
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise _bad(name, f"{name} must be true or false, got {value[:40]!r}.")


def choice_param(request, name, choices):
    value = _raw(request, name)
    if value is not None and value not in choices:
        raise _bad(name, f"{name} {value[:40]!r} is not one of {', '.join(choices)}.")
    return value


def datetime_param(request, name, tz):
    """ISO 8601 (e.g. 2024-05-01T08:00:00+08:00 or 2024-05-01 08:00); without an offset it is read in `tz`."""
    value = _raw(request, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _bad(name, f"{name} {value[:40]!r} is not an ISO 8601 date and time, "
                         "such as 2024-05-01T08:00:00+08:00.") from None
    if moment.utcoffset() is None:
        try:
            moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz)
            moment.utcoffset()
        except (OverflowError, ValueError):
            raise _bad(name, f"{name} {value[:40]!r} is out of range.") from None
    if not 1900 <= moment.year <= 9000:
        # Far enough for any schedule; beyond it date arithmetic (and some databases) overflow.
        raise _bad(name, f"{name} {value[:40]!r} is out of range: use a year between 1900 and 9000.")
    return moment


def timezone_param(request, name, default):
    value = text_param(request, name, max_length=64)
    if value is None:
        return default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise _bad(name, f"{name} {value[:64]!r} is not a known IANA time zone (such as Asia/Shanghai).") from None
    return value


def filter_tasks(queryset, request):
    """?enabled=true|false &status=running|idle|disabled &last_status=success|failed|...|none &search=text"""
    enabled = bool_param(request, "enabled")
    if enabled is not None:
        queryset = queryset.filter(task_enabled=enabled)
    state = choice_param(request, "status", TASK_STATES)
    if state == "running":
        queryset = queryset.filter(status__running=True)
    elif state == "idle":
        queryset = queryset.filter(task_enabled=True).exclude(status__running=True)
    elif state == "disabled":
        queryset = queryset.filter(task_enabled=False).exclude(status__running=True)
    last = choice_param(request, "last_status", list(ExecutionStatus.values) + ["none"])
    if last == "none":
        queryset = queryset.filter(Q(status__isnull=True) | Q(status__last_status=""))
    elif last:
        queryset = queryset.filter(status__last_status=last)
    search = text_param(request, "search")
    if search:
        queryset = queryset.filter(
            Q(task_id__icontains=search) | Q(task_name__icontains=search) | Q(task_desc__icontains=search)
        )
    return queryset


def filter_executions(queryset, request, tz):
    """?status=... &trigger=... &since=ISO &until=ISO (on start_time)"""
    status = choice_param(request, "status", ExecutionStatus.values)
    if status:
        queryset = queryset.filter(status=status)
    trigger = choice_param(request, "trigger", Trigger.values)
    if trigger:
        queryset = queryset.filter(trigger=trigger)
    since = datetime_param(request, "since", tz)
    if since:
        queryset = queryset.filter(start_time__gte=since)
    until = datetime_param(request, "until", tz)
    if until:
        queryset = queryset.filter(start_time__lte=until)
    return queryset
