"""The two rows nearly every API request reads (its API key with the user; the task of /api/tasks/<task_id>/...),
each by one SQL statement that each database connection compiles once (models/prepared.py says why)."""
from tasks_app.models import ApiKey, Task
from tasks_app.models.prepared import PreparedLookup

key_with_user = PreparedLookup(ApiKey, "key_hash", related="user", stand_in="0" * 64)
task_with_status = PreparedLookup(Task, "task_id", related="status", stand_in="-")
