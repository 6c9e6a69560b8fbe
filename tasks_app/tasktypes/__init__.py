"""Task types: what a task's run is. Built in: python (a Python script, today's behaviour), shell (an executable
file run by its #! line) and http (one HTTP request). Plugins add theirs by dotted path in settings.TASK_TYPES
(a TaskType subclass; its `name` is what task_type holds). See docs/plugins.md."""
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from .base import OptionErrors, Performed, RunContext, TaskType
from .builtin import PythonType, ShellType
from .http import HttpType

DEFAULT = "python"
BUILT_IN = (PythonType, ShellType, HttpType)

__all__ = ["DEFAULT", "OptionErrors", "Performed", "RunContext", "TaskType", "all_types", "get_type", "installed",
           "names"]


class UnknownType(LookupError):
    pass


@lru_cache(maxsize=8)
def _load(paths: tuple) -> dict:
    found = {kind.name: kind() for kind in BUILT_IN}
    for path in paths:
        kind = import_string(path)  # ImportError names the path: a setting that is wrong stops the process
        if not (isinstance(kind, type) and issubclass(kind, TaskType)) or not kind.name:
            raise TypeError(f"TASK_TYPES: {path} is not a TaskType subclass with a name")
        found[kind.name] = kind()
    return found


def all_types() -> dict:
    """{name: TaskType instance}: the built-in types and those of settings.TASK_TYPES (a plugin may replace a
    built-in one by using its name)."""
    paths = tuple(getattr(settings, "TASK_TYPES", ()) or ())
    try:
        return _load(paths)
    except Exception as exc:  # a wrong setting: every save and run names it, none is a crash
        raise UnknownType(f"TASK_TYPES ({', '.join(paths)}) cannot be loaded: {exc!r}") from exc


def installed() -> dict:
    """all_types(), or the built-in ones alone while TASK_TYPES cannot be loaded (a page still shows)."""
    try:
        return all_types()
    except UnknownType:
        return {kind.name: kind() for kind in BUILT_IN}


def names() -> list:
    return list(installed())


def get_type(name: str) -> TaskType:
    """The type called `name`; UnknownType (naming the installed ones) if none is."""
    found = all_types().get(name or DEFAULT)
    if found is None:
        raise UnknownType(f"task_type {name!r} is not installed (installed: {', '.join(all_types())}; a plugin's "
                          f"type is added to settings.TASK_TYPES)")
    return found
