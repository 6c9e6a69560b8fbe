"""Use cases about trigger URLs: create one for a task (the token is returned once), revoke it, and start the
task with it. Creating and revoking are audit entries; a start through a token is a run requested by
"hook:<prefix>" with the trigger `hook`. The caller of a refused token learns nothing about why (revoked,
expired and unknown look the same); the log says why, by prefix."""
import logging

from django.db import transaction
from django.utils import timezone

from ..audit import events as audit_events
from ..audit import record as audit
from ..models import Pause, Trigger, TriggerToken
from . import executions

log = logging.getLogger("APIInterface")
NAME_MAX = 100


class HookRefused(Exception):
    """The token does not start anything (unknown, revoked or expired): the same answer for all three."""


class TaskDisabled(Exception):
    """A good token whose task is disabled: an operator switched it off, and a call from another system must not
    start it behind their back (as Jenkins refuses remote builds of a disabled job). Its holder may know this."""


class TaskPaused(Exception):
    """A good token whose task a pause covers (every task, or one of its tags): the pause holds back every automatic
    start, and a call from another system is one. `pause` is the pause (models.Pause) that holds it back."""

    def __init__(self, task_id, pause):
        self.task_id, self.pause = task_id, pause
        super().__init__(f"task {task_id}: {pause.reason_text()}")


def _actor_name(actor) -> str:
    return actor if isinstance(actor, str) else actor.get_username()


def clean_name(name) -> str:
    name = (name or "").strip()
    if len(name) > NAME_MAX:
        raise ValueError(f"name: at most {NAME_MAX} characters (got {len(name)})")
    if "\x00" in name:  # PostgreSQL refuses it in text: a ValueError from the database driver otherwise
        raise ValueError("name: must not contain a NUL character")
    return name


def create_hook(task, *, name="", expires_at=None, actor, via):
    """A new trigger token for `task`; returns (TriggerToken, plain token). ValueError (naming the field) for a
    name too long or an expiry that has already passed."""
    name = clean_name(name)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError(f"expires_at: {expires_at.isoformat()} has already passed")
    with transaction.atomic():
        hook, token = TriggerToken.issue(task, name=name, expires_at=expires_at, created_by=_actor_name(actor))
        audit.hook_event(audit_events.HOOK_CREATED, hook, actor=actor, via=via, changes={
            "task": [None, task.task_id], "name": [None, name], "prefix": [None, hook.prefix],
            "expires_at": [None, expires_at.isoformat() if expires_at else None]})
    log.info("Trigger URL %s… (%s) of task %s created by %s via %s%s", hook.prefix, name, task.task_id,
             _actor_name(actor), via, f", expires {expires_at.isoformat()}" if expires_at else "")
    return hook, token


def revoke_hook(hook, *, actor, via) -> bool:
    """Revoke `hook`; False when it was revoked already (by someone else meanwhile, perhaps)."""
    now = timezone.now()
    with transaction.atomic():
        done = TriggerToken.objects.filter(pk=hook.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=_actor_name(actor))
        if done:
            hook.revoked_at, hook.revoked_by = now, _actor_name(actor)
            audit.hook_event(audit_events.HOOK_REVOKED, hook, actor=actor, via=via,
                             changes={"revoked_at": [None, now.isoformat()]})
    if done:
        log.info("Trigger URL %s… of task %s revoked by %s via %s", hook.prefix, hook.task.task_id,
                 _actor_name(actor), via)
    return bool(done)


def find_usable(token: str):
    """The token's row when it may start its task now; HookRefused otherwise (the log line says why)."""
    hook = TriggerToken.find(token)
    if hook is None:
        raise HookRefused("unknown")
    why = hook.refusal()
    if why:
        log.warning("Trigger URL %s… of task %s refused: %s", hook.prefix, hook.task.task_id, why)
        raise HookRefused(why)
    return hook


def fire_hook(hook, *, env=None, via="hook"):
    """Queue a run of the token's task (env: one-off task_env overrides, see executions.run_now); returns the
    execution. The run's requester is "hook:<prefix>", so the audit trail and the run page say which token.
    TaskDisabled when the task is disabled, TaskPaused when a pause covers it (nothing queued, so the caller learns
    at once; a run queued just before a pause began is recorded skipped by the engine when it would start)."""
    if not hook.task.task_enabled:
        log.warning("Trigger URL %s… of task %s refused: the task is disabled", hook.prefix, hook.task.task_id)
        raise TaskDisabled(hook.task.task_id)
    pause = Pause.objects.covering(hook.task.task_tags)
    if pause is not None:
        log.warning("Trigger URL %s… of task %s refused: %s", hook.prefix, hook.task.task_id, pause.reason_text())
        raise TaskPaused(hook.task.task_id, pause)
    execution = executions.run_now(hook.task, actor=f"hook:{hook.prefix}", via=via, trigger=Trigger.HOOK,
                                   env=env, details={"hook": hook.pk})
    # Conditional, like the API keys' last_used_at: concurrent starts write once.
    now = timezone.now()
    TriggerToken.objects.filter(pk=hook.pk).update(last_used_at=now)
    hook.last_used_at = now
    return execution
