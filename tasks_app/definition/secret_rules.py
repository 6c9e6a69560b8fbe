"""How a secret comes in, for the rules of task_env and task_notify.webhook: a new value is sealed under the
secrets key, the form every role is shown ({"secret": true} for a task_env value, scheme and host for a webhook)
keeps what is stored, a stored token ({"encrypted": ...}, as in conf/tasks.json or an export) must open with
the key. No message holds a secret value."""
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tasks_app.secrets import keys
from tasks_app.secrets.values import ENCRYPTED, SECRET, SHOWN, is_encrypted, is_shown_secret, shown_url

from .shown import kind_of, show


def _opens_to(stored, text) -> bool:
    """Whether a stored secret holds `text` (so sending the same value again changes nothing)."""
    try:
        return is_encrypted(stored) and keys.open_secret(stored) == text
    except keys.SecretUnreadable:
        return False


def _check_env_text(key, text, limit):
    if "\x00" in text:
        raise ValidationError(_("task_env value of %(key)s must not contain a NUL character.") % {"key": show(key)})
    size = len(text.encode("utf-8"))
    if limit and size > limit:
        raise ValidationError(_("task_env value of %(key)s is %(size)d bytes long; at most %(limit)d (%(kib)d KiB) "
                                "are allowed.") % {"key": show(key), "size": size, "limit": limit,
                                                   "kib": limit // 1024})


def env_value(key, item, stored, limit):
    """One task_env value as stored: text, or a sealed secret. `stored` is the task's stored value of `key`."""
    if isinstance(item, str):
        _check_env_text(key, item, limit)
        return item
    if is_shown_secret(item):
        if is_encrypted(stored):
            return {ENCRYPTED: stored[ENCRYPTED]}
        raise ValidationError(_("task_env value of %(key)s keeps a stored secret, but this task has no secret named "
                                "%(key)s: give its value as {\"secret\": \"...\"}.") % {"key": show(key)})
    if isinstance(item, dict) and set(item) == {SECRET} and isinstance(item[SECRET], str):
        text = item[SECRET]
        if not text:
            raise ValidationError(_("task_env value of %(key)s: a secret must not be empty.") % {"key": show(key)})
        _check_env_text(key, text, limit)
        return {ENCRYPTED: stored[ENCRYPTED]} if _opens_to(stored, text) else keys.seal(text)
    if is_encrypted(item) and set(item) == {ENCRYPTED}:
        try:
            text = keys.open_secret(item)
        except keys.SecretUnreadable as exc:
            raise ValidationError(_("task_env value of %(key)s is refused: it %(reason)s.")
                                  % {"key": show(key), "reason": exc}) from None
        _check_env_text(key, text, limit)
        return {ENCRYPTED: item[ENCRYPTED]}
    raise ValidationError(_("task_env value of %(key)s must be text, got %(kind)s (a secret is given as "
                            "{\"secret\": \"text\"}, a stored one as {\"encrypted\": \"token\"}).")
                          % {"key": show(key), "kind": kind_of(item)})


def webhook_value(item, stored, url_problems):
    """task_notify.webhook as stored: "" or a sealed URL with its shown form. `url_problems(url)` lists what is
    wrong with a URL (its format, a refused host). Raises ValidationError with every problem."""
    if isinstance(item, str) and not item.strip():
        return ""
    if is_shown_secret(item):  # as an export without secrets writes it
        if is_encrypted(stored):
            return {ENCRYPTED: stored[ENCRYPTED], SHOWN: stored.get(SHOWN) or ""}
        raise ValidationError(_("task_notify.webhook keeps a stored webhook, but this task has none: give its URL."))
    if isinstance(item, str):
        url = item.strip()
        if is_encrypted(stored) and url == stored.get(SHOWN):
            return {ENCRYPTED: stored[ENCRYPTED], SHOWN: stored[SHOWN]}  # sent back as it was shown
    elif is_encrypted(item):
        try:
            url = keys.open_secret(item).strip()
        except keys.SecretUnreadable as exc:
            raise ValidationError(_("task_notify.webhook is refused: it %(reason)s.") % {"reason": exc}) from None
    else:
        raise ValidationError(_("%(field)s must be text, got %(kind)s %(value)s.")
                              % {"field": "task_notify.webhook", "kind": kind_of(item), "value": show(item)})
    problems = url_problems(url)
    if problems:
        raise ValidationError(problems)
    if _opens_to(stored, url):
        return {ENCRYPTED: stored[ENCRYPTED], SHOWN: shown_url(url)}
    if is_encrypted(item):
        return {ENCRYPTED: item[ENCRYPTED], SHOWN: shown_url(url)}
    return keys.seal(url, **{SHOWN: shown_url(url)})
