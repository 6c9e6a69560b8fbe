"""The audit trail's events: their names (kept in each entry's additional_data), their words on the pages, the
nearest of django-auditlog's own actions, and which of them make a new version of a task."""
from django.utils.translation import gettext_lazy as _

TASK_CREATED = "task.created"
TASK_UPDATED = "task.updated"
TASK_ENABLED = "task.enabled"
TASK_DISABLED = "task.disabled"
TASK_DELETED = "task.deleted"
TASK_IMPORTED = "task.imported"
TASK_RESTORED = "task.restored"  # by the restore of a conf/tasks.json backup
VERSION_RESTORED = "task.version_restored"  # one of its own earlier versions
TASK_RECORDED = "task.recorded"  # a task changed for the first time since auditing began: how it was before
RUN_REQUESTED = "run.requested"
RUN_STOPPED = "run.stopped"
CHANNEL_CREATED = "channel.created"
CHANNEL_UPDATED = "channel.updated"
CHANNEL_DELETED = "channel.deleted"
CHANNEL_TESTED = "channel.tested"
CALENDAR_CREATED = "calendar.created"
CALENDAR_UPDATED = "calendar.updated"
CALENDAR_DELETED = "calendar.deleted"
BACKFILL_STARTED = "backfill.started"
BACKFILL_CANCELLED = "backfill.cancelled"
PAUSE_STARTED = "pause.started"
PAUSE_ENDED = "pause.ended"
KEY_CREATED = "key.created"
KEY_REVOKED = "key.revoked"
HOOK_CREATED = "hook.created"
HOOK_REVOKED = "hook.revoked"
USER_CREATED = "user.created"
ROLES_CHANGED = "user.roles_changed"
LOGIN = "login.succeeded"
LOGIN_FAILED = "login.failed"
LOCKED_OUT = "login.locked_out"

LABELS = {
    TASK_CREATED: _("task created"),
    TASK_UPDATED: _("task edited"),
    TASK_ENABLED: _("task enabled"),
    TASK_DISABLED: _("task disabled"),
    TASK_DELETED: _("task deleted"),
    TASK_IMPORTED: _("task imported"),
    TASK_RESTORED: _("task restored from a backup"),
    VERSION_RESTORED: _("version restored"),
    TASK_RECORDED: _("configuration recorded as found"),
    RUN_REQUESTED: _("run started by hand"),
    RUN_STOPPED: _("run stopped"),
    CHANNEL_CREATED: _("channel created"),
    CHANNEL_UPDATED: _("channel edited"),
    CHANNEL_DELETED: _("channel deleted"),
    CHANNEL_TESTED: _("channel tested"),
    CALENDAR_CREATED: _("calendar created"),
    CALENDAR_UPDATED: _("calendar edited"),
    CALENDAR_DELETED: _("calendar deleted"),
    BACKFILL_STARTED: _("backfill started"),
    BACKFILL_CANCELLED: _("backfill cancelled"),
    PAUSE_STARTED: _("schedule paused"),
    PAUSE_ENDED: _("schedule resumed"),
    KEY_CREATED: _("API key created"),
    KEY_REVOKED: _("API key revoked"),
    HOOK_CREATED: _("trigger URL created"),
    HOOK_REVOKED: _("trigger URL revoked"),
    USER_CREATED: _("user created"),
    ROLES_CHANGED: _("roles changed"),
    LOGIN: _("logged in"),
    LOGIN_FAILED: _("login failed"),
    LOCKED_OUT: _("login locked out"),
}
EVENTS = tuple(LABELS)

# The events whose entry holds a full snapshot of the task, numbered 1, 2, 3... per task.
VERSION_EVENTS = frozenset({TASK_CREATED, TASK_UPDATED, TASK_ENABLED, TASK_DISABLED, TASK_IMPORTED, TASK_RESTORED,
                            VERSION_RESTORED, TASK_RECORDED})

# django-auditlog's action of each event (create 0, update 1, delete 2, access 3), so its own admin filter and
# words stay meaningful.
CREATE, UPDATE, DELETE, ACCESS = 0, 1, 2, 3
AUDITLOG_ACTION = {
    TASK_CREATED: CREATE, KEY_CREATED: CREATE, HOOK_CREATED: CREATE, USER_CREATED: CREATE, CHANNEL_CREATED: CREATE,
    CALENDAR_CREATED: CREATE, BACKFILL_STARTED: CREATE, PAUSE_STARTED: CREATE,
    TASK_DELETED: DELETE, CHANNEL_DELETED: DELETE, CALENDAR_DELETED: DELETE, CHANNEL_TESTED: ACCESS,
    RUN_REQUESTED: ACCESS, RUN_STOPPED: ACCESS, LOGIN: ACCESS, LOGIN_FAILED: ACCESS, LOCKED_OUT: ACCESS,
    TASK_RECORDED: ACCESS,
}


def auditlog_action(event: str) -> int:
    return AUDITLOG_ACTION.get(event, UPDATE)


def label(event: str) -> str:
    return str(LABELS.get(event, event))
