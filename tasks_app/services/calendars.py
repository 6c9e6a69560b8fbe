"""Use cases about custom business calendars, for the pages, the API and the admin alike: create, edit, delete
(each validated the same way, logged and audited), and the "calendars" list of a tasks file that an import
brings in. A calendar that tasks name cannot be renamed or deleted; an edit refreshes the next run time of the
tasks on it. Every change is written to conf/tasks.json, as a task's is."""
import datetime
import logging
import re

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .. import workdays
from ..audit import events as audit_events
from ..audit import record as audit
from ..definition.loader import TaskFileError, TaskValidationError, show
from ..models import CALENDAR_NAME_PATTERN, Calendar, ConfigVersion, Task
from .tasks import _mirror_after_commit

log = logging.getLogger("APIInterface")
FIELDS = ("name", "description", "base", "added_dates", "removed_dates", "ranges")
MAX_DATES = 2000  # dates added or removed: about five years of a calendar kept by hand
MAX_RANGES = 500
LABEL_MAX = 200
# Names the pages and the API use for something else: /calendars/new (the form), /api/calendars/builtin.
RESERVED_NAMES = ("new", "builtin")


def _date(text):
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise ValueError
    return datetime.date.fromisoformat(text.strip())


def _dates(field, value, errors) -> list:
    if not isinstance(value, list):
        errors[field] = [_("%(field)s must be a list of dates such as \"2025-10-11\", got %(value)s.")
                         % {"field": field, "value": show(value)}]
        return []
    if len(value) > MAX_DATES:
        errors[field] = [_("%(field)s holds %(count)d dates; at most %(limit)d are allowed.")
                         % {"field": field, "count": len(value), "limit": MAX_DATES}]
        return []
    days, problems = set(), []
    for item in value:
        try:
            days.add(_date(item))
        except ValueError:
            problems.append(_("%(field)s item %(value)s is not a date such as \"2025-10-11\".")
                            % {"field": field, "value": show(item)})
    if problems:
        errors[field] = problems
    return [day.isoformat() for day in sorted(days)]


def _ranges(value, errors) -> list:
    if not isinstance(value, list) or len(value) > MAX_RANGES:
        errors["ranges"] = [_("ranges must be a list of at most %(limit)d objects such as {\"start\": \"2025-12-20\", "
                              "\"end\": \"2026-01-02\", \"label\": \"freeze\"}, got %(value)s.")
                            % {"limit": MAX_RANGES, "value": show(value)}]
        return []
    cleaned, problems = [], []
    for item in value:
        try:
            if not isinstance(item, dict) or set(item) - {"start", "end", "label"}:
                raise ValueError
            start, end = _date(item.get("start")), _date(item.get("end"))
            label = item.get("label") or ""
            if not isinstance(label, str) or len(label) > LABEL_MAX:
                raise ValueError
            if "\x00" in label:  # PostgreSQL's jsonb refuses it
                problems.append(_("ranges item %(value)s: its label must not contain a NUL character.")
                                % {"value": show(item)})
                continue
        except ValueError:
            problems.append(_("ranges item %(value)s is not a range: give {\"start\": \"2025-12-20\", \"end\": "
                              "\"2026-01-02\", \"label\": \"freeze\"} (a label of at most 200 characters).")
                            % {"value": show(item)})
            continue
        if end < start:
            problems.append(_("ranges item %(value)s ends before it starts.") % {"value": show(item)})
            continue
        cleaned.append({"start": start.isoformat(), "end": end.isoformat(), "label": label.strip()})
    if problems:
        errors["ranges"] = problems
    return sorted(cleaned, key=lambda r: (r["start"], r["end"]))


def clean_calendar(data: dict, stored: Calendar | None) -> dict:
    """A calendar's fields checked; TaskValidationError names each field and value."""
    errors = {}
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        errors["non_field_errors"] = [_("Unknown field %(name)s; a calendar has %(fields)s.")
                                      % {"name": show(unknown[0]), "fields": ", ".join(FIELDS)}]

    def given(name, default):
        return data.get(name, getattr(stored, name) if stored is not None else default)

    name = given("name", None)
    if not isinstance(name, str) or not re.fullmatch(CALENDAR_NAME_PATTERN, name):
        errors["name"] = [_("name %(value)s is not valid: use 1 to 64 letters, digits, '-' or '_'.")
                          % {"value": show(name)}]
    # The names refused since calendars landed stay editable where one was taken before: only a new name is checked.
    elif name in RESERVED_NAMES and (stored is None or name != stored.name):
        errors["name"] = [_("name %(value)s is taken by the pages or the API (/calendars/new, "
                            "/api/calendars/builtin); choose another.") % {"value": show(name)}]
    elif workdays.is_builtin(name) or (workdays.is_builtin(name.lower())  # "CN-workdays" would only confuse
                                       and (stored is None or name != stored.name)):
        errors["name"] = [_("name %(value)s is the name of a built-in calendar; choose another.")
                          % {"value": show(name)}]
    elif Calendar.objects.filter(name=name).exclude(pk=stored.pk if stored else None).exists():
        errors["name"] = [_("A calendar named %(value)s already exists.") % {"value": show(name)}]
    elif stored is not None and name != stored.name and tasks_on(stored.name):
        # Checked here too (update_calendar checks it again under its lock), so that a form names it.
        errors["name"] = [_("Calendar %(value)s cannot be renamed: tasks %(tasks)s name it.")
                          % {"value": show(stored.name), "tasks": ", ".join(tasks_on(stored.name))}]
    base = given("base", "") or ""
    if not isinstance(base, str) or (base and not workdays.is_builtin(base)):
        errors["base"] = [_("base %(value)s is not a built-in calendar: use cn-workdays, cn-holidays, weekdays, "
                            "a <country code>-workdays such as us-workdays, or nothing (every day).")
                          % {"value": show(base)}]
    description = given("description", "")
    if not isinstance(description, str) or len(description) > 500:
        errors["description"] = [_("description must be text of at most 500 characters.")]
    elif "\x00" in description:  # PostgreSQL refuses it in text
        errors["description"] = [_("%(field)s must not contain a NUL character.") % {"field": "description"}]
    cleaned = {"name": name, "description": description, "base": base,
               "added_dates": _dates("added_dates", given("added_dates", []), errors),
               "removed_dates": _dates("removed_dates", given("removed_dates", []), errors),
               "ranges": _ranges(given("ranges", []), errors)}
    if errors:
        raise TaskValidationError(errors)
    return cleaned


def _snapshot(calendar) -> dict:
    return {name: getattr(calendar, name) for name in FIELDS}


def _audit(event, calendar, before, after, actor, via):
    changes = {name: [before.get(name) if before else None, after.get(name) if after else None]
               for name in FIELDS if before is None or after is None or before.get(name) != after.get(name)}
    audit.write(event, model=Calendar, object_pk=calendar.pk, object_id=calendar.pk, object_repr=calendar.name,
                actor=actor, via=via, changes=changes)


def tasks_on(name: str) -> list:
    """The task ids whose task_calendar names the calendar."""
    return list(Task.objects.filter(task_calendar=name).order_by("task_id").values_list("task_id", flat=True))


def _refresh_tasks_on(name: str):
    """The stored next run of the tasks on a calendar that changed (the engine asks the calendar at each fire)."""
    for task in Task.objects.filter(task_calendar=name):
        task.store_next_run()


def create_calendar(data: dict, *, actor, via) -> Calendar:
    cleaned = clean_calendar(data, None)
    try:
        with transaction.atomic():
            calendar = Calendar.objects.create(**cleaned)
            _audit(audit_events.CALENDAR_CREATED, calendar, None, _snapshot(calendar), actor, via)
            ConfigVersion.bump()  # conf/tasks.json holds the calendars: its writer renders after a bump
    except IntegrityError:
        raise TaskValidationError({"name": [_("A calendar named %(value)s already exists.")
                                            % {"value": show(cleaned["name"])}]}) from None
    log.info("Calendar %s created by %s via %s", calendar.name, audit.actor_name(actor), via)
    _mirror_after_commit(actor, via)
    return calendar


def update_calendar(calendar: Calendar, data: dict, *, actor, via) -> Calendar:
    with transaction.atomic():
        current = Calendar.objects.select_for_update().get(pk=calendar.pk)
        before = _snapshot(current)
        cleaned = clean_calendar(data, current)
        users = tasks_on(current.name)
        if cleaned["name"] != current.name and users:
            raise TaskValidationError({"name": [_("Calendar %(value)s cannot be renamed: tasks %(tasks)s name it.")
                                                % {"value": show(current.name), "tasks": ", ".join(users)}]})
        for name, value in cleaned.items():
            setattr(current, name, value)
        current.save()
        after = _snapshot(current)
        if after != before:
            _audit(audit_events.CALENDAR_UPDATED, current, before, after, actor, via)
            _refresh_tasks_on(current.name)
            ConfigVersion.bump()
            _mirror_after_commit(actor, via)
    log.info("Calendar %s updated by %s via %s", current.name, audit.actor_name(actor), via)
    return current


def delete_calendar(calendar: Calendar, *, actor, via) -> None:
    with transaction.atomic():
        users = tasks_on(calendar.name)
        if users:
            raise TaskValidationError({"name": [_("Calendar %(value)s cannot be deleted: tasks %(tasks)s name it. "
                                                  "Change their task_calendar first.")
                                                % {"value": show(calendar.name), "tasks": ", ".join(users)}]})
        _audit(audit_events.CALENDAR_DELETED, calendar, _snapshot(calendar), None, actor, via)
        calendar.delete()
        ConfigVersion.bump()
    log.info("Calendar %s deleted by %s via %s", calendar.name, audit.actor_name(actor), via)
    _mirror_after_commit(actor, via)


# A calendar in a tasks file: the fields it leaves out are at their default (the file is the whole calendar).
FILE_DEFAULTS = {"description": "", "base": "", "added_dates": [], "removed_dates": [], "ranges": []}


def import_calendars(items, *, actor, via) -> tuple[list, list]:
    """Create or update the custom calendars of a tasks file's "calendars" list (import, restore, bootstrap),
    in the caller's transaction, before its tasks are checked (they may name them). None is deleted: a file
    written before calendars were part of it must not take them away. Returns (created, updated) names;
    TaskFileError lists every problem (as calendars[<index>].<field>), and then nothing is written."""
    if not isinstance(items, list):
        raise TaskFileError([("", "calendars", str(_(
            "calendars must be a list of calendars such as {\"name\": \"ops\", \"base\": \"cn-workdays\"}, "
            "got %(value)s.") % {"value": show(items)}))])
    problems, seen, checked = [], set(), []
    for index, item in enumerate(items):
        where = f"calendars[{index}]"
        if not isinstance(item, dict):
            problems.append(("", where, str(_("%(where)s must be an object such as {\"name\": \"ops\", \"base\": "
                                              "\"cn-workdays\"}, got %(value)s.") % {"where": where, "value": show(item)})))
            continue
        name = item.get("name")
        if isinstance(name, str) and name in seen:
            problems.append(("", f"{where}.name", str(_("The file holds calendar %(value)s twice.")
                                                      % {"value": show(name)})))
            continue
        seen.add(name if isinstance(name, str) else None)
        stored = Calendar.objects.select_for_update().filter(name=name).first() if isinstance(name, str) else None
        try:
            checked.append((stored, clean_calendar({**FILE_DEFAULTS, **item}, stored)))
        except TaskValidationError as exc:
            problems += [("", where if field == "non_field_errors" else f"{where}.{field}", str(message))
                         for field, messages in exc.errors.items() for message in messages]
    if problems:
        raise TaskFileError(problems)
    created, updated = [], []
    for stored, cleaned in checked:
        if stored is None:
            calendar = Calendar.objects.create(**cleaned)
            _audit(audit_events.CALENDAR_CREATED, calendar, None, _snapshot(calendar), actor, via)
            created.append(calendar.name)
        elif _snapshot(stored) != cleaned:
            before = _snapshot(stored)
            for name, value in cleaned.items():
                setattr(stored, name, value)
            stored.save()
            _audit(audit_events.CALENDAR_UPDATED, stored, before, _snapshot(stored), actor, via)
            _refresh_tasks_on(stored.name)
            updated.append(stored.name)
    if created or updated:
        log.info("Calendars from a tasks file by %s via %s: %s created, %s updated", audit.actor_name(actor), via,
                 ", ".join(created) or "none", ", ".join(updated) or "none")
    return created, updated


def days_between(name: str, first: datetime.date, last: datetime.date) -> list:
    """[(date, DayVerdict)] of a calendar (built in or custom) from `first` to `last`: what its page shows."""
    from ..models import calendar_named

    rule = calendar_named(name)
    if rule is None:
        return []
    return [(first + datetime.timedelta(days=n), rule.verdict(first + datetime.timedelta(days=n)))
            for n in range((last - first).days + 1)]
