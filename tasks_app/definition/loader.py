"""TaskLoader: the one set of rules a task definition must pass, wherever it enters (file, API, form, admin).
Every message names the field and the bad value (task_env values excepted: they may be secrets)."""
import json
import logging
import re
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .fields import FIELD, REQUIRED_FIELDS, TASK_FIELDS, TASK_ID_PATTERN, default_log_path
from .paths import LogOwners, find_cycle
from .rules import FieldRules, _kind, show
from .typerules import check_type_fields

log = logging.getLogger("TaskLoader")

class TaskValidationError(ValueError):
    """errors: {field name: [messages]}; each message names the field's value."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{f}: {' '.join(m)}" for f, m in errors.items()))


class TaskFileError(ValueError):
    """A whole file refused: problems is [(task_id, field, message)], every problem found, not just the first."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__("\n".join(f"{t or '-'}: {f}: {m}" for t, f, m in problems))


def add_errors_to_form(form, exc: TaskValidationError, field_of=None):
    """Put each of the loader's messages next to the form field it names (`field_of(name, message)` maps a
    loader field to a form field; one the form lacks goes on top). A field that already has the form's own
    error (e.g. not a number) keeps only that one."""
    already = set(form.errors)
    for name, messages in exc.errors.items():
        for message in messages:
            target = field_of(name, message) if field_of else name
            target = target if target in form.fields else None
            if target is None or target not in already:
                form.add_error(target, str(message))


class TaskLoader(FieldRules):
    """Validates task definitions; clean() for one task, clean_many() and load_file() for a whole file."""

    # The only fields whose checks read the other tasks (`existing` and `logs` of clean()): the id, unique; the
    # dependencies, known and without a cycle; the log, nobody else's.
    CHECKED_AGAINST_OTHERS = ("task_id", "task_dependencies", "task_log")

    def __init__(self, tasks_dir=None):
        self.tasks_dir = tasks_dir

    # ---- one task ---------------------------------------------------------------------------------------------

    def clean(self, data, *, existing=None, instance_id=None, logs=None, stored=None) -> dict:
        """One task -> every field of TASK_FIELDS, defaults applied. `existing` maps known task ids to their
        dependencies and `logs` some of them to their task_log (default: both from the database);
        `instance_id` is the task being edited (its id cannot change); `stored` its stored task_env and
        task_notify, whose secrets a value sent back as shown keeps (default: the database's when `existing` is)."""
        if existing is None:
            existing, logs = self._known_from_db()
            if stored is None and instance_id is not None:
                stored = self._stored_from_db([instance_id]).get(instance_id)
        owners = LogOwners(_logs_of(existing, logs))
        cleaned, errors = self._clean_one(data, existing=existing, instance_id=instance_id, log_owners=owners,
                                          stored=stored)
        if errors:
            raw_id = data.get("task_id") if isinstance(data, dict) else None
            # An id that breaks the pattern is quoted, so a newline in it cannot forge a log line.
            plain = isinstance(raw_id, str) and re.fullmatch(TASK_ID_PATTERN, raw_id)
            self._log_refusal(raw_id if plain else show(raw_id) if raw_id else instance_id, errors)
            raise TaskValidationError(errors)
        return cleaned

    def _clean_one(self, data, *, existing, instance_id=None, check_graph=True, log_owners=None, stored=None):
        errors = {}
        self.stored_secrets = stored or {}  # read by the rules of task_env and task_notify

        def error(key, message, **values):
            errors.setdefault(key, []).append(str(message) % values if values else str(message))

        if not isinstance(data, dict):
            error("task", _("A task must be a JSON object, got %(value)s."), value=show(data))
            return {}, errors
        for name in data:
            if name not in TASK_FIELDS:
                error(name, _("Unknown field %(name)s."), name=show(name))
        cleaned = {}
        for name in TASK_FIELDS:
            if name not in data or (name in REQUIRED_FIELDS and data[name] in ("", None)):
                if name in REQUIRED_FIELDS:
                    error(name, _("%(field)s is required."), field=name)
                else:
                    cleaned[name] = FIELD[name].fresh_default()
                continue
            value = data[name]
            checker = self.rule_for(name)
            try:
                cleaned[name] = checker(value)
            except ValidationError as exc:
                for message in exc.messages:
                    error(name, message)
        task_id = cleaned.get("task_id")
        if task_id:
            if instance_id is not None and task_id != instance_id:
                error("task_id", _("task_id cannot be changed (it is %(old)s, got %(new)s)."),
                      old=show(instance_id), new=show(task_id))
            elif instance_id is None and task_id in existing and check_graph:
                error("task_id", _("A task with task_id %(value)s already exists."), value=show(task_id))
            if not cleaned.get("task_log") and "task_log" not in errors:
                cleaned["task_log"] = default_log_path(task_id)
            owner = (log_owners.other_owner(task_id, cleaned["task_log"])
                     if log_owners is not None and "task_log" not in errors else None)
            if owner is not None:
                error("task_log", _("task_log %(value)s is refused: it is the log of task %(owner)s. Give a path "
                                    "inside the logs folder, such as \"logs/task_my-task.log\"."),
                      value=show(cleaned["task_log"]), owner=show(owner))
        deps = cleaned.get("task_dependencies")
        if deps is not None and "task_dependencies" not in errors:
            self._check_dependency_ids(task_id, deps, existing, error)
            if task_id and check_graph and "task_dependencies" not in errors:
                cycle = find_cycle({**existing, task_id: deps}, task_id)
                if cycle:
                    error("task_dependencies", _("task_dependencies would make a cycle: %(path)s."),
                          path=" -> ".join(cycle))
        check_type_fields(cleaned, errors, error, self.tasks_dir)
        if ("task_schedule" not in errors and not cleaned.get("task_schedule")
                and "task_dependencies" not in errors and not (deps or [])):
            error("task_schedule", _("task_schedule is required unless the task has dependencies "
                                     "(an empty schedule with dependencies makes a chain task)."))
        return cleaned, errors

    def _check_dependency_ids(self, task_id, deps, existing, error):
        for dep in deps:
            if dep == task_id:
                error("task_dependencies", _("A task cannot depend on itself (%(value)s)."), value=show(dep))
            elif dep not in existing:
                error("task_dependencies", _("task_dependencies names %(value)s, which is not a known task."),
                      value=show(dep))

    # ---- a whole file -----------------------------------------------------------------------------------------

    def clean_many(self, items, *, existing=None, logs=None, stored=None) -> list:
        """Tasks of one file, checked together: ids unique in the file, dependencies among the file's tasks plus
        `existing` (default: the database), no cycle across both, no log written by two tasks (the file's and
        those of `logs`). An id that is also in `existing` is not an error (an import updates that task).
        `stored` maps task ids to their stored task_env and task_notify, whose secrets a value given as shown
        keeps (default: the database's when `existing` is). Raises TaskFileError listing every problem of every
        task."""
        if existing is None:
            existing, logs = self._known_from_db()
            if stored is None and isinstance(items, list):
                stored = self._stored_from_db([item.get("task_id") for item in items if isinstance(item, dict)])
        stored = stored or {}
        if not isinstance(items, list):
            raise TaskFileError([("", "tasks", str(_("tasks must be a list, got %(kind)s.") % {"kind": _kind(items)}))])
        file_ids = [item.get("task_id") if isinstance(item, dict) else None for item in items]
        # Dependencies can name any task of the file, whatever its position, so collect them first.
        graph = dict(existing)
        for item, task_id in zip(items, file_ids):
            if isinstance(task_id, str):
                deps = item.get("task_dependencies", [])
                graph[task_id] = [d for d in deps if isinstance(d, str)] if isinstance(deps, list) else []
        file_logs = {task_id: item.get("task_log") or "" for item, task_id in zip(items, file_ids)
                     if isinstance(task_id, str)}
        owners = LogOwners({**_logs_of(existing, logs), **file_logs})
        problems, cleaned_all, seen = [], [], set()
        for index, (item, task_id) in enumerate(zip(items, file_ids), start=1):
            label = task_id if isinstance(task_id, str) and task_id else f"#{index}"
            cleaned, errors = self._clean_one(item, existing=graph, check_graph=False, log_owners=owners,
                                              stored=stored.get(task_id) if isinstance(task_id, str) else None)
            if isinstance(task_id, str) and task_id:
                if task_id in seen:
                    errors.setdefault("task_id", []).append(
                        str(_("task_id %(value)s appears more than once in the file.") % {"value": show(task_id)}))
                seen.add(task_id)
                cycle = find_cycle(graph, task_id) if "task_dependencies" not in errors else None
                if cycle:
                    errors.setdefault("task_dependencies", []).append(
                        str(_("task_dependencies would make a cycle: %(path)s.") % {"path": " -> ".join(cycle)}))
            problems.extend((label, field, message) for field, messages in errors.items() for message in messages)
            cleaned_all.append(cleaned)
        if problems:
            log.warning("Task file refused: %d problem(s) in %d task(s): %s", len(problems), len(items),
                        "; ".join(f"{t} {f}" for t, f, _m in problems))
            raise TaskFileError(problems)
        log.info("Task file validated: %d task(s)", len(cleaned_all))
        return cleaned_all

    def load_file(self, path) -> list:
        """Read a tasks file in the tasks.json format {"tasks": [...]} and validate it as a whole, on its own
        (dependencies must be among its tasks). Raises TaskFileError."""
        path = Path(path)
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise TaskFileError([("", "file", str(_("Cannot read %(path)s: %(reason)s.")
                                                  % {"path": str(path), "reason": exc.strerror or exc}))]) from None
        except UnicodeDecodeError as exc:
            raise TaskFileError([("", "file", str(_("%(path)s is not UTF-8 text (byte %(pos)d).")
                                                  % {"path": str(path), "pos": exc.start}))]) from None
        try:
            document = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise TaskFileError([("", "file", str(_("%(path)s is not valid JSON: %(reason)s at line %(line)d, "
                                                    "column %(column)d.")
                                                  % {"path": path.name, "reason": exc.msg, "line": exc.lineno,
                                                     "column": exc.colno}))]) from None
        except _DuplicateKey as exc:
            raise TaskFileError([("", "file", str(_("%(path)s repeats the key %(key)s in one object.")
                                                  % {"path": path.name, "key": show(exc.args[0])}))]) from None
        if not isinstance(document, dict) or "tasks" not in document:
            raise TaskFileError([("", "file", str(_("%(path)s must hold an object with a \"tasks\" list, "
                                                    "as in {\"tasks\": [...]}.") % {"path": path.name}))])
        extra = [key for key in document if key not in ("tasks", "calendars")]  # calendars: services/calendars.py
        if extra:
            raise TaskFileError([("", key, str(_("Unknown top-level field %(name)s.") % {"name": show(key)}))
                                 for key in extra])
        return self.clean_many(document["tasks"], existing={})

    # ---- helpers ----------------------------------------------------------------------------------------------

    @classmethod
    def known_tasks(cls):
        """What clean() checks a task against by default: ({task id: dependencies}, {task id: task_log})."""
        return cls._known_from_db()

    @staticmethod
    def _known_from_db():
        """({task id: dependencies}, {task id: task_log}) of every task in the database, in one query. The
        dependencies come as text and only non-empty lists are decoded: with 50,000 tasks, most without any,
        decoding each took a second of every edit's transaction."""
        from django.db.models import TextField
        from django.db.models.functions import Cast

        from tasks_app.models import Task

        existing, logs = {}, {}
        for task_id, deps, task_log in Task.objects.values_list(
                "task_id", Cast("task_dependencies", TextField()), "task_log"):
            existing[task_id] = list(json.loads(deps) or []) if deps and deps != "[]" else []
            logs[task_id] = task_log
        return existing, logs

    @staticmethod
    def _stored_from_db(task_ids) -> dict:
        """{task id: {"task_env": ..., "task_notify": ...}} of those of `task_ids` in the database."""
        from tasks_app.models import Task

        ids = [task_id for task_id in task_ids if isinstance(task_id, str)]
        return {task_id: {"task_env": env, "task_notify": notify} for task_id, env, notify in
                Task.objects.filter(task_id__in=ids).values_list("task_id", "task_env", "task_notify")}

    @staticmethod
    def _log_refusal(task_id, errors):
        # Messages hold no task_env values (see _check_task_env), so they are safe to log.
        log.info("Task %s refused: %s", task_id or "(no id)",
                 "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()))


def _logs_of(existing, logs) -> dict:
    """{task id: task_log} of the known tasks; one `logs` does not name keeps its default log."""
    logs = logs or {}
    return {task_id: logs.get(task_id, "") for task_id in existing}


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result
