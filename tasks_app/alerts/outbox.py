"""Notices as rows: queued for the channels a task names (or the default channels), claimed by one sender with a
conditional UPDATE (so a scheduler and a web process never send the same notice twice), sent, and recorded
attempt by attempt: sent, due again after the next wait of NOTIFY_RETRY_DELAYS, or failed. Log lines name a
channel by its name, scheme and host only."""
import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tasks_app.models import Channel, Notice, NoticeStatus
from tasks_app.secrets import keys

from . import apprise_send

log = logging.getLogger("TaskExecutor")
STALE_CLAIM = timedelta(minutes=5)  # a notice claimed this long ago by a sender that died is due again
BATCH = 50


def channels_for(task) -> list:
    """The channels a task's alerts go to: those it names (that still exist), else the default channels."""
    names = list(task.task_channels or []) if task is not None else []
    if not names:
        return list(Channel.objects.filter(is_default=True))
    found = {c.name: c for c in Channel.objects.filter(name__in=names)}
    for name in names:
        if name not in found:
            log.warning("Task %s names channel %s, which does not exist: its alerts do not go there",
                        task.task_id, name)
    return [found[name] for name in names if name in found]


def queue(event, *, title, body, task=None, execution=None, incident=None, channels=None) -> list:
    """One pending notice per channel (default: the task's), due now. Returns the notices."""
    channels = channels_for(task) if channels is None else channels
    now = timezone.now()
    notices = [Notice(task=task, execution=execution, incident=incident, event=event, channel=channel.name,
                      target=channel.shown_url, title=title[:300], body=body, next_attempt_at=now)
               for channel in channels]
    if notices:
        Notice.objects.bulk_create(notices)
    elif task is not None or event != "test":
        log.info("No channel for %s alert%s: nothing sent", event, f" of task {task.task_id}" if task else "")
    return notices


def record_sent_elsewhere(event, *, name, target, execution=None, task=None, attempts=1, error="") -> Notice:
    """A notice a TASK_NOTIFIERS notifier sent (or failed to send) itself: kept so the run's page shows it."""
    now = timezone.now()
    return Notice.objects.create(task=task, execution=execution, event=event, channel=name[:100], target=target[:200],
                                 status=NoticeStatus.FAILED if error else NoticeStatus.SENT, attempts=attempts,
                                 last_error=error, sent_at=None if error else now, next_attempt_at=None)


def due(now, limit=BATCH) -> list[int]:
    """Ids of the notices due for an attempt: pending and due, or claimed by a sender that never finished."""
    return list(Notice.objects.filter(
        Q(status=NoticeStatus.PENDING, next_attempt_at__lte=now)
        | Q(status=NoticeStatus.SENDING, claimed_at__lt=now - STALE_CLAIM)
    ).order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])


def next_due():
    """When the earliest pending notice is due (aware UTC), or None."""
    return (Notice.objects.filter(status=NoticeStatus.PENDING).order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True).first())


def claim(notice_id, now) -> Notice | None:
    """Take a due notice for sending; None if another sender took it first (the row count says who won)."""
    won = Notice.objects.filter(
        Q(pk=notice_id) & (Q(status=NoticeStatus.PENDING, next_attempt_at__lte=now)
                           | Q(status=NoticeStatus.SENDING, claimed_at__lt=now - STALE_CLAIM))
    ).update(status=NoticeStatus.SENDING, claimed_at=now)
    return Notice.objects.select_related("task").filter(pk=notice_id).first() if won == 1 else None


def send(notice, retry=True) -> bool:
    """One attempt at a claimed notice, recorded; with `retry` a failure that retrying can help is due again
    after the next wait of NOTIFY_RETRY_DELAYS. Returns whether it was sent."""
    attempt = notice.attempts + 1
    tries = 1 + len(settings.NOTIFY_RETRY_DELAYS)
    channel = Channel.objects.filter(name=notice.channel).first()
    retryable = False
    try:
        if channel is None:
            raise apprise_send.SendError(f"channel {notice.channel} no longer exists")
        try:
            url = keys.open_secret(channel.url)
        except keys.SecretUnreadable as exc:
            raise apprise_send.SendError(f"its URL {exc}") from None
        apprise_send.send(url, notice.title, notice.body)
    except apprise_send.SendError as exc:
        retryable = exc.retryable
        error = str(exc)
    else:
        error = ""
    now = timezone.now()
    where = f"{notice.event} alert {notice.pk} via channel {notice.channel} ({notice.target})"
    if not error:
        Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.SENT, attempts=attempt, sent_at=now,
                                                   last_error="", next_attempt_at=None)
        log.info("Sent %s%s", where, f" on attempt {attempt}" if attempt > 1 else "")
        return True
    again = retry and retryable and attempt < tries
    later = now + timedelta(seconds=settings.NOTIFY_RETRY_DELAYS[attempt - 1]) if again else None
    Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.PENDING if again else NoticeStatus.FAILED,
                                               attempts=attempt, last_error=error[:2000], next_attempt_at=later)
    log.warning("Could not send %s, attempt %d of %d: %s (%s)", where, attempt, tries, error,
                f"trying again at {later.isoformat()}" if again else
                "given up" if retryable else "permanent: not tried again")
    return False


def send_due(now=None) -> int:
    """Send every notice that is due now; returns how many attempts were made."""
    now = now or timezone.now()
    made = 0
    while True:
        ids = due(now)
        if not ids:
            return made
        for notice_id in ids:
            notice = claim(notice_id, now)
            if notice is not None:
                send(notice)
                made += 1
        if len(ids) < BATCH:
            return made
