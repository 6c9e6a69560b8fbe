"""What a secret looks like wherever it is kept or shown, and what any role may see of a task.

Stored (database, conf/tasks.json, backups, exports): {"encrypted": "<Fernet token>"}; a webhook URL also keeps
{"shown": "https://host/..."} beside its token. Shown to every role: {"secret": true, "changed_at": "..."} for a
task_env value, the scheme and host for a webhook URL. Nothing here needs the key: a Fernet token carries the
time it was made in clear, so pages, the API and the audit trail can say when a secret changed without reading it.
"""
import base64
import binascii
import struct
from datetime import datetime, timezone
from urllib.parse import urlsplit

ENCRYPTED = "encrypted"  # the stored form's key: a Fernet token
SHOWN = "shown"  # beside a webhook's token: what anyone may see of it (scheme and host)
SECRET = "secret"  # the input form's key ({"secret": "value"}) and the shown form's ({"secret": true})
CHANGED_AT = "changed_at"
# The fields that hold secrets, and where: task_env's values may each be one; task_notify's webhook always is.
ENV_FIELD, NOTIFY_FIELD, WEBHOOK_KEY = "task_env", "task_notify", "webhook"
FERNET_VERSION = 0x80
HIDDEN = "***"  # a value of which nothing may be shown


def is_encrypted(value) -> bool:
    """Whether `value` is a stored secret: {"encrypted": token} (a webhook's may also hold "shown")."""
    return (isinstance(value, dict) and isinstance(value.get(ENCRYPTED), str)
            and set(value) <= {ENCRYPTED, SHOWN})


def is_shown_secret(value) -> bool:
    """Whether `value` is a secret as shown ({"secret": true, ...}): sent back, it keeps the stored secret."""
    return isinstance(value, dict) and value.get(SECRET) is True and set(value) <= {SECRET, CHANGED_AT}


def token_time(token: str) -> datetime | None:
    """When a Fernet token was made (aware UTC), read from its clear header; None if it is not a token."""
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError, AttributeError):
        return None
    if len(raw) < 9 or raw[0] != FERNET_VERSION:
        return None
    try:
        return datetime.fromtimestamp(struct.unpack(">Q", raw[1:9])[0], tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def iso_utc(moment: datetime | None) -> str | None:
    """An aware time as the API writes times: ISO 8601 in UTC with a Z."""
    if moment is None:
        return None
    text = moment.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def shown_secret(value) -> dict:
    """A stored secret as every role sees it: that it is set, and when it was last changed."""
    return {SECRET: True, CHANGED_AT: iso_utc(token_time(value.get(ENCRYPTED, "")))}


def shown_url(url: str) -> str:
    """A URL as anyone may see it: scheme and host only. Its path, query and user part often hold the token that
    lets anyone post (Slack, Discord, Teams URLs); "/..." says that there is more."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return HIDDEN
    host = parts.netloc.rpartition("@")[2]
    if not parts.scheme or not host:
        return HIDDEN  # not a URL (a row saved before the rule): nothing of it can be shown safely
    return f"{parts.scheme}://{host}/..." if parts.path.strip("/") or parts.query else f"{parts.scheme}://{host}"


def public_env(env):
    """task_env as any role may see it: plain values as they are, secrets as {"secret": true, "changed_at"}."""
    if not isinstance(env, dict):
        return env
    return {key: shown_secret(value) if is_encrypted(value) else value for key, value in env.items()}


def public_notify(notify):
    """task_notify as any role may see it: the webhook as scheme and host."""
    if not isinstance(notify, dict):
        return notify
    shown = dict(notify)
    hook = shown.get(WEBHOOK_KEY)
    if is_encrypted(hook):
        shown[WEBHOOK_KEY] = hook.get(SHOWN) or "(secret)"
    elif isinstance(hook, str) and hook:
        shown[WEBHOOK_KEY] = shown_url(hook)  # a row saved before webhooks were encrypted
    return shown


def public_value(field_name: str, value):
    """What any role (viewer to admin) may see of one field's stored value: the value itself for every field
    but those that hold secrets."""
    shown = PUBLIC_FORMS.get(field_name)
    return value if shown is None else shown(value)


PUBLIC_FORMS = {ENV_FIELD: public_env, NOTIFY_FIELD: public_notify}  # the fields that hold secrets: what is shown


def redact_task(task: dict) -> dict:
    """A task's fields (a dict, e.g. task_to_dict's) as any role may see them: a new dict, secrets replaced."""
    shown = dict(task)
    for name, public in PUBLIC_FORMS.items():  # only the fields public_value changes (a list asks for each task)
        if name in shown:
            shown[name] = public(shown[name])
    return shown


def has_secret(field_name: str, value) -> bool:
    """Whether a stored value of `field_name` holds a secret (the audit trail then shows only "changed")."""
    if field_name == ENV_FIELD and isinstance(value, dict):
        return any(is_encrypted(v) for v in value.values())
    if field_name == NOTIFY_FIELD and isinstance(value, dict):
        return is_encrypted(value.get(WEBHOOK_KEY))
    return False


def omit_secrets(task: dict) -> dict:
    """A task for an export without secrets: each secret becomes {"secret": true}, its name alone. Imported again
    where the task exists, that keeps the stored secret; elsewhere the import asks for the value."""
    out = dict(task)
    env = out.get(ENV_FIELD)
    if isinstance(env, dict):
        out[ENV_FIELD] = {key: {SECRET: True} if is_encrypted(value) else value for key, value in env.items()}
    notify = out.get(NOTIFY_FIELD)
    if isinstance(notify, dict) and is_encrypted(notify.get(WEBHOOK_KEY)):
        out[NOTIFY_FIELD] = {**notify, WEBHOOK_KEY: {SECRET: True}}
    return out
