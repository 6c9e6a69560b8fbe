"""The rule for each field of a task definition, used by TaskLoader: each check returns the cleaned value or
raises ValidationError with messages that name the field and its value (task_env values excepted: secrets)."""
import re
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.translation import gettext_lazy as _

from scheduler_site.env import limit_value
from tasks_app import cron, outbound
from tasks_app.secrets.values import shown_url

from . import alert_rules, fields
from .envnames import refused_env_names
from .fields import FIELD, INT_RANGES, MAX_LENGTH, QUEUE_PATTERN, TASK_ID_PATTERN
from .paths import resolve_exec_path, resolve_log_path
from .secret_rules import env_value, webhook_value
from .typerules import check_task_options, check_task_type
from .shown import kind_of as _kind
from .shown import show
from .tags import clean_tags

NOTIFY_KEYS = ("on_success", "on_failure", "email", "webhook")
_email = EmailValidator()
_url = URLValidator(schemes=["http", "https"])


class FieldRules:
    stored_secrets = {}  # the task's stored task_env and task_notify, for the secrets sent back as shown
    # ---- field rules: each returns the cleaned value or raises ValidationError --------------------------------

    @staticmethod
    def _text(field, value, *, allow_empty=True):
        if not isinstance(value, str):
            raise ValidationError(_("%(field)s must be text, got %(kind)s %(value)s."),
                                  params={"field": field, "kind": _kind(value), "value": show(value)})
        if "\x00" in value:
            raise ValidationError(_("%(field)s must not contain a NUL character."), params={"field": field})
        if not allow_empty and not value.strip():
            raise ValidationError(_("%(field)s must not be blank, got %(value)s."),
                                  params={"field": field, "value": show(value)})
        limit = MAX_LENGTH.get(field)
        if limit and len(value) > limit:
            raise ValidationError(_("%(field)s is %(length)d characters long; at most %(limit)d are allowed: "
                                    "%(value)s."),
                                  params={"field": field, "length": len(value), "limit": limit, "value": show(value)})
        return value

    @staticmethod
    def _int(field, value):
        low, high = INT_RANGES[field]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(_("%(field)s must be an integer, got %(kind)s %(value)s."),
                                  params={"field": field, "kind": _kind(value), "value": show(value)})
        if not low <= value <= high:
            raise ValidationError(_("%(field)s must be between %(low)d and %(high)d, got %(value)s."),
                                  params={"field": field, "low": low, "high": high, "value": show(value)})
        return value

    @staticmethod
    def _bool(field, value):
        if not isinstance(value, bool):
            raise ValidationError(_("%(field)s must be true or false, got %(kind)s %(value)s."),
                                  params={"field": field, "kind": _kind(value), "value": show(value)})
        return value

    @staticmethod
    def _choice(field, value, choices):
        if value not in choices.values:
            raise ValidationError(_("%(name)s %(value)s is not one of %(choices)s."),
                                  params={"name": field, "value": show(value), "choices": ", ".join(choices.values)})
        return value

    def rule_for(self, name):
        """The check of field `name`: its own _check_<name> below, else the plain check of its kind (text,
        integer, true or false, one of its choices). LookupError if the field has neither."""
        own = getattr(self, f"_check_{name}", None)
        if own is not None:
            return own
        field = FIELD[name]
        if field.kind == fields.TEXT:
            return lambda value: self._text(name, value, allow_empty=not field.required)
        if field.kind == fields.INTEGER:
            return lambda value: None if value is None and field.nullable else self._int(name, value)
        if field.kind == fields.BOOLEAN:
            return lambda value: None if value is None and field.nullable else self._bool(name, value)
        if field.kind == fields.CHOICE:
            return lambda value: self._choice(name, value, field.choices)
        raise LookupError(f"{name}: a field of kind {field.kind} needs a rule of its own, _check_{name}")

    def _check_task_id(self, value):
        value = self._text("task_id", value)
        if not re.fullmatch(TASK_ID_PATTERN, value):
            raise ValidationError(_("task_id %(value)s is not valid: use 1 to 64 letters, digits, '-' or '_'."),
                                  params={"value": show(value)})
        return value

    def _check_task_exec(self, value):
        if value == "":
            return ""  # whether the task's type needs a file is the type rule's question (typerules.py)
        self._text("task_exec", value, allow_empty=False)
        try:
            resolve_exec_path(value, self.tasks_dir)
        except ValueError as exc:
            raise ValidationError(_("task_exec %(value)s is refused: %(reason)s. Give a path of an existing file "
                                    "inside the tasks folder, such as \"tasks/test_task.py\"."),
                                  params={"value": show(value), "reason": str(exc)}) from None
        return value  # kept as written: "tasks/x.py" and "x.py" both name TASKS_DIR/x.py

    def _check_task_type(self, value):
        return check_task_type(value)

    def _check_task_options(self, value):
        return check_task_options(value)

    def _check_task_schedule(self, value):
        value = self._text("task_schedule", value).strip()
        if not value:
            return ""
        try:
            return cron.validate_expression(value)
        except cron.CronError as exc:
            raise ValidationError(_("task_schedule %(value)s is not a valid cron expression: %(reason)s."),
                                  params={"value": show(value), "reason": str(exc)}) from None

    def _check_task_log(self, value):
        self._text("task_log", value)
        if value:
            try:
                resolve_log_path(value)
            except ValueError as exc:
                raise ValidationError(_("task_log %(value)s is refused: %(reason)s. Give a path inside the logs "
                                        "folder, such as \"logs/task_my-task.log\"."),
                                      params={"value": show(value), "reason": str(exc)}) from None
        return value

    def _check_task_env(self, value):
        if not isinstance(value, dict):
            # Not shown: a value sent where the object belongs may be a password.
            raise ValidationError(_("task_env must be an object of names to text values, got %(kind)s."),
                                  params={"kind": _kind(value)})
        field = FIELD["task_env"]
        problems, out = [], {}
        if len(value) > field.max_items:
            problems.append(_("task_env has %(count)d entries; at most %(limit)d are allowed.")
                            % {"count": len(value), "limit": field.max_items})
        refused = dict(refused_env_names(value))  # the one deny list: definition/envnames.py
        stored = self.stored_secrets.get("task_env") or {}
        for key, item in value.items():
            if key in refused:
                problems.append(_("task_env name %(key)s is refused: %(reason)s.")
                                % {"key": show(key), "reason": refused[key]})
            try:
                out[key] = env_value(key, item, stored.get(key) if isinstance(stored, dict) else None,
                                     field.max_value_bytes)
            except ValidationError as exc:
                problems.extend(exc.messages)
        if problems:
            raise ValidationError([str(p) for p in problems])
        return out

    def _check_task_dependencies(self, value):
        if not isinstance(value, list):
            raise ValidationError(_("task_dependencies must be a list of task ids, got %(kind)s %(value)s."),
                                  params={"kind": _kind(value), "value": show(value)})
        problems, seen = [], set()
        for dep in value:
            if not isinstance(dep, str) or not re.fullmatch(TASK_ID_PATTERN, dep):
                problems.append(_("task_dependencies item %(value)s is not a task id.") % {"value": show(dep)})
            elif dep in seen:
                problems.append(_("task_dependencies names %(value)s twice.") % {"value": show(dep)})
            seen.add(dep if isinstance(dep, str) else None)
        if problems:
            raise ValidationError([str(p) for p in problems])
        return list(value)

    def _check_task_notify(self, value):
        if not isinstance(value, dict):
            # Not shown: it may be a webhook URL, which holds a token.
            raise ValidationError(_("task_notify must be an object, got %(kind)s."), params={"kind": _kind(value)})
        problems, out = [], {}
        for key, item in value.items():
            where = f"task_notify.{key}"
            if key not in NOTIFY_KEYS:
                problems.append(_("Unknown field %(name)s; task_notify takes %(keys)s.")
                                % {"name": show(where), "keys": ", ".join(NOTIFY_KEYS)})
            elif key in ("on_success", "on_failure"):
                if isinstance(item, bool):
                    out[key] = item
                else:
                    problems.append(_("%(field)s must be true or false, got %(kind)s %(value)s.")
                                    % {"field": where, "kind": _kind(item), "value": show(item)})
            elif key == "email" and not isinstance(item, str):
                problems.append(_("%(field)s must be text, got %(kind)s %(value)s.")
                                % {"field": where, "kind": _kind(item), "value": show(item)})
            elif key == "email":
                for address in filter(None, (a.strip() for a in item.split(","))):
                    try:
                        _email(address)
                    except ValidationError:
                        problems.append(_("task_notify.email %(value)s is not a valid e-mail address.")
                                        % {"value": show(address)})
                out[key] = item.strip()
            else:
                stored = (self.stored_secrets.get("task_notify") or {})
                try:
                    out[key] = webhook_value(item, stored.get("webhook") if isinstance(stored, dict) else None,
                                             self._webhook_problems)
                except ValidationError as exc:
                    problems.extend(exc.messages)
        if problems:
            raise ValidationError([str(p) for p in problems])
        return out

    @staticmethod
    def _webhook_problems(url):
        """What is wrong with a webhook URL; messages show it as scheme and host only (it is a secret)."""
        try:
            _url(url)
        except ValidationError:
            return [str(_("task_notify.webhook %(value)s is not a valid http:// or https:// URL.")
                        % {"value": show(shown_url(url))})]
        try:
            outbound.check_url(url)
        except outbound.OutboundRefused as exc:
            return [str(_("task_notify.webhook: host %(host)s is refused: %(reason)s.")
                        % {"host": show(exc.host), "reason": exc.reason})]
        return []

    def _check_task_channels(self, value):
        """Names of channels that exist (/channels); they are looked up when an alert is sent, so a channel
        renamed or deleted later only makes that task's alerts go nowhere (and says so in sys.log)."""
        if not isinstance(value, list):
            raise ValidationError(_("task_channels must be a list of channel names, got %(kind)s %(value)s."),
                                  params={"kind": _kind(value), "value": show(value)})
        from tasks_app.models import Channel

        known = set(Channel.objects.values_list("name", flat=True))
        problems, seen = [], set()
        for name in value:
            if not isinstance(name, str) or not re.fullmatch(TASK_ID_PATTERN, name):
                problems.append(_("task_channels item %(value)s is not a channel name.") % {"value": show(name)})
            elif name in seen:
                problems.append(_("task_channels names %(value)s twice.") % {"value": show(name)})
            elif name not in known:
                problems.append(_("task_channels names %(value)s, which is not a channel (known: %(known)s); "
                                  "define it under Channels first.")
                                % {"value": show(name), "known": ", ".join(sorted(known)) or _("none")})
            seen.add(name if isinstance(name, str) else None)
        if problems:
            raise ValidationError([str(p) for p in problems])
        return list(value)

    def _check_task_tags(self, value):
        return clean_tags(value)

    def _check_task_alerts(self, value):
        found = alert_rules.problems(value)
        if found:
            raise ValidationError(found)
        return dict(value)

    def _check_task_timezone(self, value):
        value = self._text("task_timezone", value).strip()
        if value:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                raise ValidationError(_("task_timezone %(value)s is not a known IANA time zone "
                                        "(such as \"Europe/Berlin\" or \"Asia/Shanghai\")."),
                                      params={"value": show(value)}) from None
        return value

    def _check_task_run_as(self, value):
        value = self._text("task_run_as", value).strip()
        allowed = settings.SCHEDULER_RUN_AS_ALLOWED
        if value and value not in allowed:
            raise ValidationError(_("task_run_as %(value)s is not a user the administrator allows "
                                    "(SCHEDULER_RUN_AS_ALLOWED: %(allowed)s)."),
                                  params={"value": show(value), "allowed": ", ".join(allowed) or _("none")})
        return value

    def _check_task_limits(self, value):
        """Names and values as SCHEDULER_LIMITS takes them, kept as written ("512M"); none above the
        administrator's ceiling SCHEDULER_LIMITS_MAX (an operator must not lift a run's limits)."""
        if not isinstance(value, dict):
            raise ValidationError(_("task_limits must be an object such as {\"memory\": \"512M\"}, got %(kind)s "
                                    "%(value)s."), params={"kind": _kind(value), "value": show(value)})
        problems = []
        for name, raw in value.items():
            try:
                amount = limit_value(name, raw, "task_limits")
            except ValueError as exc:
                problems.append(str(exc))
                continue
            ceiling = settings.SCHEDULER_LIMITS_MAX.get(name)
            if ceiling is not None and (amount is None or amount > ceiling):
                problems.append(str(_("task_limits: %(name)s %(value)s is above the most a task may ask for, "
                                      "%(ceiling)s (SCHEDULER_LIMITS_MAX).")
                                    % {"name": name, "value": show(raw), "ceiling": ceiling}))
        if problems:
            raise ValidationError(problems)
        return dict(value)

    def _check_task_queue(self, value):
        value = self._text("task_queue", value).strip() or FIELD["task_queue"].default  # blank: the default queue
        if not re.fullmatch(QUEUE_PATTERN, value):
            raise ValidationError(_("task_queue %(value)s is not a queue name: use 1 to 64 letters, digits, '-', "
                                    "'_' or '.', such as \"default\" or \"gpu.large\"."),
                                  params={"value": show(value)})
        return value

    def _check_task_calendar(self, value):
        """A built-in calendar (cn-workdays, cn-holidays, weekdays, <country code>-workdays) or a custom one
        that exists (/calendars)."""
        value = self._text("task_calendar", value).strip()
        if not value:
            return ""
        from tasks_app.models import calendar_exists

        if not calendar_exists(value):
            raise ValidationError(_("task_calendar %(value)s is not a calendar: name a built-in one such as "
                                    "cn-workdays, weekdays or us-workdays, or one of /calendars."),
                                  params={"value": show(value)})
        return value
