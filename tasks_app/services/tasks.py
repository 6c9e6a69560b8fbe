"""Use cases that change tasks. Pages, API, admin and commands all call these, so each change is
validated by TaskLoader, bumps the scheduler's change marker, mirrors conf/tasks.json (after a backup)
and is logged with who made it through which door ("admin", "api", "web", "import", "restore", "cli").

STUB: the storage engineer implements this module.
"""


def create_task(data: dict, *, actor: str, door: str):
    """Validate `data` (the document's field names) and create the Task. Raises loader.TaskValidationError."""
    raise NotImplementedError


def update_task(task, data: dict, *, actor: str, door: str, partial: bool = False):
    """Validate and apply `data` to `task` (a models.Task). Raises loader.TaskValidationError."""
    raise NotImplementedError


def delete_task(task, *, actor: str, door: str):
    raise NotImplementedError


def set_enabled(task, enabled: bool, *, actor: str, door: str):
    raise NotImplementedError
