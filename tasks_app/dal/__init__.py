"""The data access layer: the TaskDataAccess interface and its two implementations."""
from .base import STATUS_FIELDS, TaskDataAccess, TaskNotFound
from .django_dal import DjangoTaskDataAccess
from .file_dal import FileTaskDataAccess


def conf_file_dal(folder=None) -> FileTaskDataAccess:
    """The file DAL over tasks.json, task_history.json and task_status.json in `folder` (default settings.CONF_DIR)."""
    from django.conf import settings

    folder = folder or settings.CONF_DIR
    return FileTaskDataAccess(folder / "tasks.json", folder / "task_history.json", folder / "task_status.json")


__all__ = ["DjangoTaskDataAccess", "FileTaskDataAccess", "STATUS_FIELDS", "TaskDataAccess", "TaskNotFound",
           "conf_file_dal"]
