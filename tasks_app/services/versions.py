"""Restoring one of a task's own versions (numbered 1, 2, 3... in the audit trail): its configuration is applied
through update_task like any edit, so it is validated by TaskLoader, mirrored to conf/tasks.json, reaches the
scheduler through the change marker within a tick, and is itself a new, audited version."""
from django.utils.translation import gettext as _

from ..audit import versions
from .tasks import update_task


class VersionNotFound(LookupError):
    pass


def restore_version(task, number: int, *, actor: str, via: str):
    """Make `task` (a models.Task) what its version `number` was; returns the task. Raises VersionNotFound, or
    loader.TaskValidationError when that configuration is no longer valid (e.g. its script or a dependency is
    gone), naming the field."""
    entry = versions.version_entry(task.task_id, number)
    if entry is None or not entry.serialized_data:
        raise VersionNotFound(_("Task %(task)s has no version %(number)s.") % {"task": task.task_id, "number": number})
    config = dict(entry.serialized_data)
    config["task_id"] = task.task_id
    return update_task(task, config, actor=actor, via=via, restored_version=number)
