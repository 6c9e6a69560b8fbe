"""Query parameters read strictly, by one set of rules for the API and the pages: a bad value raises ParamError
naming the parameter and the value (the API answers 400, a page shows it by its filter), never a 500."""
import re
import zoneinfo
from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

TEXT_MAX = 200
# Far enough for any schedule; beyond it date arithmetic (and some databases) overflow.
FIRST_YEAR, LAST_YEAR = 1900, 9000


class ParamError(ValueError):
    """One bad query parameter: `name` and a message that names it and its value."""

    def __init__(self, name, message):
        self.name = name
        self.message = str(message)
        super().__init__(f"{name}: {self.message}")

    @property
    def errors(self):
        return {self.name: [self.message]}


def _shown(value, limit=40):
    return repr(value[:limit])


def _raw(params, name):
    value = params.get(name)
    if value is None or value == "":
        return None
    if "\x00" in value:
        raise ParamError(name, _("%(name)s must not contain a NUL character.") % {"name": name})
    return value


def text(params, name, max_length=TEXT_MAX):
    value = _raw(params, name)
    if value is not None and len(value) > max_length:
        raise ParamError(name, _("%(name)s is %(length)d characters long; at most %(limit)d are allowed.")
                         % {"name": name, "length": len(value), "limit": max_length})
    return value


def integer(params, name, default=None, minimum=None, maximum=None):
    value = _raw(params, name)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ParamError(name, _("%(name)s must be a whole number, not %(value)s.")
                         % {"name": name, "value": _shown(value)}) from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ParamError(name, _("%(name)s must be between %(low)s and %(high)s, not %(value)s.")
                         % {"name": name, "low": minimum, "high": maximum if maximum is not None else "∞",
                            "value": number})
    return number


def boolean(params, name):
    value = _raw(params, name)
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ParamError(name, _("%(name)s must be true or false, not %(value)s.") % {"name": name, "value": _shown(value)})


def choice(params, name, choices):
    value = _raw(params, name)
    if value is not None and value not in choices:
        raise ParamError(name, _("%(name)s %(value)s is not one of %(choices)s.")
                         % {"name": name, "value": _shown(value), "choices": ", ".join(choices)})
    return value


def word(params, name, pattern, what):
    """A short word matching `pattern` (a regular expression), trimmed and lowercased ("Nightly" -> "nightly");
    `what` says what it must be in the error ("a tag: ...")."""
    value = text(params, name, max_length=64)
    if value is None:
        return None
    lowered = value.strip().lower()
    if not re.fullmatch(pattern, lowered):
        raise ParamError(name, _("%(name)s %(value)s is not %(what)s.") % {"name": name, "value": _shown(value),
                                                                           "what": what})
    return lowered


def moment(params, name, tz):
    """ISO 8601 (2024-05-01T08:00:00+08:00, 2024-05-01 08:00, a datetime-local input); without an offset it is
    read in `tz` (a zone or its name)."""
    value = _raw(params, name)
    if value is None:
        return None
    try:
        result = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ParamError(name, _("%(name)s %(value)s is not an ISO 8601 date and time, such as 2024-05-01T08:00:00+08:00.")
                         % {"name": name, "value": _shown(value)}) from None
    if result.utcoffset() is None:
        try:
            result = result.replace(tzinfo=zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz)
            result.utcoffset()
        except (OverflowError, ValueError):
            raise _out_of_range(name, value) from None
    if not FIRST_YEAR <= result.year <= LAST_YEAR:
        raise _out_of_range(name, value)
    return result


def day(params, name, tz, *, end=False):
    """A yyyy-mm-dd (a date input) as that day's midnight in `tz`; with end=True, the next day's midnight, so
    that "until" includes the whole day."""
    value = _raw(params, name)
    if value is None:
        return None
    try:
        date = datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ParamError(name, _("%(name)s %(value)s is not a date (yyyy-mm-dd).")
                         % {"name": name, "value": _shown(value)}) from None
    if not FIRST_YEAR <= date.year <= LAST_YEAR:
        raise _out_of_range(name, value)
    return datetime.combine(date + timedelta(days=1 if end else 0), time.min, tzinfo=tz)


def zone_name(params, name, default):
    """An IANA zone name (checked), or `default`."""
    value = text(params, name, max_length=64)
    if value is None:
        return default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ParamError(name, _("%(name)s %(value)s is not a known IANA time zone (such as Asia/Shanghai).")
                         % {"name": name, "value": _shown(value, 64)}) from None
    return value


def _out_of_range(name, value):
    return ParamError(name, _("%(name)s %(value)s is out of range: use a year between %(first)d and %(last)d.")
                      % {"name": name, "value": _shown(value), "first": FIRST_YEAR, "last": LAST_YEAR})


class Errors(dict):
    """For a page that shows every bad filter at once: errors.read(reader, params, name, ...) gives the value,
    or None after noting the reader's ParamError under the parameter's name."""

    def read(self, reader, params, name, *args, **kwargs):
        try:
            return reader(params, name, *args, **kwargs)
        except ParamError as exc:
            self[exc.name] = exc.message
            return None


def range_bound(params, name, tz, *, end=False):
    """A bound of a date range: a date and time (moment()), or a bare yyyy-mm-dd taken as the whole day: its
    first instant, or with end=True its last, so that "to 2025-10-10" includes that day (today: up to now, as a
    range of past slots means)."""
    value = _raw(params, name)
    if value is not None and len(value.strip()) == 10:
        bound = day(params, name, zoneinfo.ZoneInfo(tz) if isinstance(tz, str) else tz, end=end)
        if not end:
            return bound
        now = timezone.now()
        return now if bound - timedelta(days=1) <= now < bound else bound - timedelta(microseconds=1)
    return moment(params, name, tz)
