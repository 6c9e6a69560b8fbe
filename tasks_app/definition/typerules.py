"""The rules of task_type and task_options, and the one rule that joins them with task_exec: the type must be
installed, a type that runs a file needs task_exec (and may refuse the file: a shell task's must be executable),
one that runs no file takes none, and its options are checked by the type itself (tasks_app/tasktypes), each
message naming its option."""
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tasks_app import tasktypes

from .paths import resolve_exec_path
from .shown import kind_of, show


def check_task_type(value):
    if not isinstance(value, str):
        raise ValidationError(_("task_type must be text, got %(kind)s %(value)s."),
                              params={"kind": kind_of(value), "value": show(value)})
    value = value.strip() or tasktypes.DEFAULT
    try:
        tasktypes.get_type(value)
    except tasktypes.UnknownType as exc:
        if exc.__cause__ is not None:  # the setting itself is wrong
            raise ValidationError(str(exc)) from None
        raise ValidationError(_("task_type %(value)s is not installed; installed: %(names)s."),
                              params={"value": show(value), "names": ", ".join(tasktypes.names())}) from None
    return value


def check_task_options(value):
    if not isinstance(value, dict):
        raise ValidationError(_("task_options must be a JSON object of the type's fields, got %(kind)s %(value)s."),
                              params={"kind": kind_of(value), "value": show(value)})
    return value


def check_type_fields(cleaned, errors, error, tasks_dir=None):
    """The rule across task_type, task_exec and task_options; fills cleaned["task_options"] with the type's
    defaults. Adds to `errors` through error(field, message)."""
    if "task_type" in errors or "task_type" not in cleaned:
        return
    kind = tasktypes.get_type(cleaned["task_type"])
    task_exec = cleaned.get("task_exec") or ""
    if kind.runs_file and "task_exec" not in errors:
        if not task_exec:
            error("task_exec", _("task_exec is required for a task of type %(type)s: the path of its file inside the "
                                 "tasks folder."), type=kind.name)
        else:
            try:
                problem = kind.check_file(resolve_exec_path(task_exec, tasks_dir))
            except ValueError:
                problem = None  # the task_exec rule has said why already
            if problem:
                error("task_exec", _("task_exec %(value)s cannot run as a %(type)s task: it %(reason)s."),
                      value=show(task_exec), type=kind.name, reason=problem)
    elif not kind.runs_file and task_exec:
        error("task_exec", _("task_exec must be empty for a task of type %(type)s, which runs no file (got "
                             "%(value)s)."), type=kind.name, value=show(task_exec))
    if "task_options" in errors:
        return
    try:
        cleaned["task_options"] = kind.clean_options(cleaned.get("task_options") or {})
    except tasktypes.OptionErrors as exc:
        for name, messages in exc.errors.items():
            for message in messages:
                error("task_options", "task_options.%(name)s: %(text)s", name=name, text=message)
