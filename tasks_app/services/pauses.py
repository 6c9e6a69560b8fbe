"""Use cases of the pause switch: pause every task or the tasks with one tag (an optional end time and reason), and
resume. While a pause is on the scheduler records each slot it covers as skipped with the pause's reason, so
resuming has nothing to catch up (a backfill can run those slots). Both are audit entries."""
import logging
from datetime import datetime, timezone as dt_timezone

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..audit import events as audit_events
from ..audit import record as audit
from ..definition.shown import show
from ..definition.tags import normal_tag
from ..models import Pause, Task
from .tasks import _check_via

log = logging.getLogger("SchedulerEngine")
REASON_MAX = 500


class PauseError(ValueError):
    """A pause or resume that cannot be done: `field` names what is wrong (tag, until, reason, pause)."""

    def __init__(self, field, message):
        self.field = field
        self.message = str(message)
        super().__init__(f"{field}: {self.message}")

    @property
    def errors(self):
        return {self.field: [self.message]}


def pause(*, tag: str = "", until: datetime | None = None, reason: str = "", actor: str, via: str) -> Pause:
    """Pause every task (tag "") or the tasks tagged `tag`, until `until` (aware; None: until resumed). A tag no
    task carries (enabled or not) is refused under "tag"; a task tagged later while the pause is on is held back
    too, as the pause is read at each start."""
    _check_via(via)
    now = timezone.now()
    tag = _clean_tag(tag)
    if tag and not Task.objects.tagged(tag).exists():
        # A tag nobody carries is most likely a typo ("biling"): pausing it would look done and hold back nothing.
        raise PauseError("tag", _("No task has the tag %(value)s: pausing it would hold back nothing. Check the "
                                  "spelling, or tag the tasks first.") % {"value": tag})
    if until is not None and (until.tzinfo is None or until <= now):
        raise PauseError("until", _("until %(value)s must be a moment in the future with its time zone.")
                         % {"value": until.isoformat()})
    if not isinstance(reason, str) or len(reason) > REASON_MAX or "\x00" in reason:
        raise PauseError("reason", _("reason must be text of at most %(limit)d characters, got %(value)s.")
                         % {"limit": REASON_MAX, "value": show(reason)})
    try:
        with transaction.atomic():
            # A pause whose end time has passed is over: close it, so the scope can be paused again.
            for over in Pause.objects.select_for_update().filter(tag=tag, ended_at__isnull=True, until__lte=now):
                over.ended_at, over.ended_by = over.until, "(end time)"
                over.save(update_fields=["ended_at", "ended_by"])
            until = until.astimezone(dt_timezone.utc) if until else None  # stored in UTC, as every time
            made = Pause.objects.create(tag=tag, until=until, reason=reason.strip(), started_at=now,
                                        started_by=audit.actor_name(actor))
            audit.write(audit_events.PAUSE_STARTED, model=Pause, object_pk=made.pk, object_id=made.pk,
                        object_repr=made.scope, actor=actor, via=via,
                        changes={"tag": [None, tag], "until": [None, until.isoformat() if until else None],
                                 "reason": [None, made.reason]})
    except IntegrityError:
        raise PauseError("tag", _("Tasks tagged %(tag)s are already paused: resume that pause first.") % {"tag": tag}
                         if tag else _("Every task is already paused: resume that pause first.")) from None
    log.warning("Schedule paused (%s) by %s via %s%s%s", made.scope, made.started_by, via,
                f" until {until.isoformat()}" if until else "", f": {made.reason}" if made.reason else "")
    return made


def resume(pause_id, *, actor: str, via: str) -> Pause:
    """End a pause now. Its skipped slots stay skipped (no catch-up)."""
    _check_via(via)
    now = timezone.now()
    with transaction.atomic():
        found = Pause.objects.select_for_update().filter(pk=pause_id).first() if str(pause_id).isdigit() else None
        if found is None or found.ended_at is not None or (found.until and found.until <= now):
            raise PauseError("pause", _("Pause %(value)s is not on (already resumed, over, or never made).")
                             % {"value": show(pause_id)})
        found.ended_at, found.ended_by = now, audit.actor_name(actor)
        found.save(update_fields=["ended_at", "ended_by"])
        audit.write(audit_events.PAUSE_ENDED, model=Pause, object_pk=found.pk, object_id=found.pk,
                    object_repr=found.scope, actor=actor, via=via, changes={"ended_at": [None, now.isoformat()]})
    log.warning("Schedule resumed (%s) by %s via %s; the slots skipped while paused are not run", found.scope,
                found.ended_by, via)
    return found


def _clean_tag(tag):
    if tag in (None, ""):
        return ""
    try:
        return normal_tag(tag)
    except ValidationError as exc:
        raise PauseError("tag", exc.messages[0]) from None
