"""Use cases about notification channels, for the pages, the API and the admin alike: create, edit, delete (each
validated the same way, logged and audited, the URL only as scheme and host) and send a test message, which
answers with the exact error when the service did not take it."""
import logging
import re

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ..alerts import apprise_send, messages, outbox
from ..audit import events as audit_events
from ..audit import record as audit
from ..definition.loader import TaskValidationError, show
from ..models import AlertEvent, CHANNEL_NAME_PATTERN, Channel, Notice, NoticeStatus, Task
from ..secrets import keys
from ..secrets.values import ENCRYPTED, SHOWN, is_encrypted

log = logging.getLogger("APIInterface")
FIELDS = ("name", "url", "is_default", "description")
URL_MAX_LENGTH = 2000


def clean_channel(data: dict, stored: Channel | None) -> dict:
    """A channel's fields checked (TaskValidationError names each field and value, never the URL's token), the URL
    sealed; `stored` is the channel being edited (its stored URL kept when its shown form comes back)."""
    errors = {}
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        errors["non_field_errors"] = [_("Unknown field %(name)s; a channel has %(fields)s.")
                                      % {"name": show(unknown[0]), "fields": ", ".join(FIELDS)}]
    name = data.get("name", stored.name if stored else None)
    if not isinstance(name, str) or not re.fullmatch(CHANNEL_NAME_PATTERN, name):
        errors["name"] = [_("name %(value)s is not valid: use 1 to 64 letters, digits, '-' or '_'.")
                          % {"value": show(name)}]
    elif Channel.objects.filter(name=name).exclude(pk=stored.pk if stored else None).exists():
        errors["name"] = [_("A channel named %(value)s already exists.") % {"value": show(name)}]
    url, problem = _url(data.get("url", None if stored is None else {SHOWN: stored.shown_url}), stored)
    if problem:
        errors["url"] = [problem]
    is_default = data.get("is_default", stored.is_default if stored else False)
    if not isinstance(is_default, bool):
        errors["is_default"] = [_("is_default must be true or false, got %(value)s.") % {"value": show(is_default)}]
    description = data.get("description", stored.description if stored else "")
    if not isinstance(description, str) or len(description) > 500:
        errors["description"] = [_("description must be text of at most 500 characters.")]
    if errors:
        raise TaskValidationError(errors)
    return {"name": name, "url": url, "is_default": is_default, "description": description}


def _url(item, stored):
    """(stored form, problem): a new URL sealed with its shown form; the shown form sent back keeps the stored
    URL. A problem names the scheme only: the rest of an Apprise URL is a token."""
    if stored is not None and (item == stored.shown_url or item == {SHOWN: stored.shown_url}
                               or (isinstance(item, dict) and item.get("secret") is True)):
        return stored.url, None
    if is_encrypted(item):
        try:
            item = keys.open_secret(item)
        except keys.SecretUnreadable as exc:
            return None, _("url is refused: it %(reason)s.") % {"reason": exc}
    if not isinstance(item, str) or not item.strip():
        return None, _("url must be an Apprise URL such as dingtalk://token/ or mailto://user:pass@example.com.")
    url = item.strip()
    if len(url) > URL_MAX_LENGTH:
        return None, _("url is %(length)d characters long; at most %(limit)d are allowed.") % {
            "length": len(url), "limit": URL_MAX_LENGTH}
    try:
        apprise_send.plugin_for(url)
    except apprise_send.ChannelUrlError as exc:
        return None, _("url is refused: %(reason)s.") % {"reason": exc}
    if stored is not None and is_encrypted(stored.url):
        try:
            if keys.open_secret(stored.url) == url:
                return stored.url, None
        except keys.SecretUnreadable:
            pass
    return keys.seal(url, **{SHOWN: apprise_send.shown_url(url)}), None


def _shown(channel_fields: dict) -> dict:
    return {**channel_fields, "url": (channel_fields.get("url") or {}).get(SHOWN)}


def _audit(event, channel, before, after, actor, via):
    changes = {}
    for name in FIELDS:
        old = before.get(name) if before else None
        new = after.get(name) if after else None
        if before is None or after is None or old != new:
            changes[name] = [old, new]
    if before and after and (before.get("_url_token") != after.get("_url_token")) and "url" not in changes:
        changes["url"] = [before["url"], f"{after['url']} (changed)"]
    audit.write(event, model=Channel, object_pk=channel.pk, object_id=channel.pk, object_repr=channel.name,
                actor=actor, via=via, changes=changes)


def _snapshot(channel) -> dict:
    return {**_shown({name: getattr(channel, name) for name in FIELDS}),
            "_url_token": (channel.url or {}).get(ENCRYPTED)}


def create_channel(data: dict, *, actor, via) -> Channel:
    cleaned = clean_channel(data, None)
    try:
        with transaction.atomic():
            channel = Channel.objects.create(**cleaned)
            _audit(audit_events.CHANNEL_CREATED, channel, None, _snapshot(channel), actor, via)
    except IntegrityError:
        raise TaskValidationError({"name": [_("A channel named %(value)s already exists.")
                                            % {"value": show(cleaned["name"])}]}) from None
    log.info("Channel %s (%s) created by %s via %s", channel.name, channel.shown_url, audit.actor_name(actor), via)
    return channel


def update_channel(channel: Channel, data: dict, *, actor, via) -> Channel:
    with transaction.atomic():
        current = Channel.objects.select_for_update().get(pk=channel.pk)
        before = _snapshot(current)
        cleaned = clean_channel(data, current)
        if cleaned["name"] != current.name and _named_by(current.name):
            raise TaskValidationError({"name": [_("Channel %(value)s cannot be renamed: tasks %(tasks)s name it.")
                                                % {"value": show(current.name),
                                                   "tasks": ", ".join(_named_by(current.name))}]})
        for name, value in cleaned.items():
            setattr(current, name, value)
        current.save()
        after = _snapshot(current)
        if after != before:
            _audit(audit_events.CHANNEL_UPDATED, current, before, after, actor, via)
    log.info("Channel %s updated by %s via %s", current.name, audit.actor_name(actor), via)
    return current


def delete_channel(channel: Channel, *, actor, via) -> None:
    with transaction.atomic():
        users = _named_by(channel.name)
        if users:
            raise TaskValidationError({"name": [_("Channel %(value)s cannot be deleted: tasks %(tasks)s name it. "
                                                  "Remove it from their task_channels first.")
                                                % {"value": show(channel.name), "tasks": ", ".join(users)}]})
        _audit(audit_events.CHANNEL_DELETED, channel, _snapshot(channel), None, actor, via)
        channel.delete()
    log.info("Channel %s deleted by %s via %s", channel.name, audit.actor_name(actor), via)


def _named_by(name: str) -> list:
    """The task ids whose task_channels name the channel."""
    candidates = Task.objects.filter(task_channels__icontains=f'"{name}"').values_list("task_id", "task_channels")
    return sorted(task_id for task_id, names in candidates if name in (names or []))


def send_test(channel: Channel, *, actor, via) -> Notice:
    """Send a test message now, in this request; the Notice says how it went (its last_error is the exact
    error). Recorded like any notice, and in the audit trail."""
    title, body = messages.test_message(channel.name)
    (notice,) = outbox.queue(AlertEvent.TEST, title=title, body=body, channels=[channel])
    claimed = outbox.claim(notice.pk, notice.next_attempt_at)
    if claimed is not None:
        outbox.send(claimed, retry=False)  # the person waiting sees the outcome of this one attempt
    notice.refresh_from_db()
    audit.write(audit_events.CHANNEL_TESTED, model=Channel, object_pk=channel.pk, object_id=channel.pk,
                object_repr=channel.name, actor=actor, via=via,
                details={"sent": notice.status == NoticeStatus.SENT, "error": notice.last_error})
    return notice

