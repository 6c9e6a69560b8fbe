"""The fields of a task, in the order conf/tasks.json writes them (so the file diffs cleanly in git)."""

TASK_FIELDS = (
    "task_id",
    "task_name",
    "task_desc",
    "task_exec",
    "task_schedule",
    "task_timeout",
    "task_retry",
    "task_retry_interval",
    "task_enabled",
    "task_log",
    "task_env",
    "task_dependencies",
    "task_notify",
    "task_timezone",
    "task_overlap",
    "task_misfire_grace",
)
