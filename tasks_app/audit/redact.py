"""What any role may see of a task's field values in the audit trail and the versions: never a secret value, only
that it is there and whether it changed. `visible` is the one rule (every reader goes through it, and the diff
through `shown`); when tasks_app.definition.secrets lands, `visible` is the function to point at its rule.

Secret today: a webhook URL past its scheme and host (its path and query often hold the token; user and password
too), and any task_env value that is not plain text (the stored form of a secret, e.g. {"encrypted": "..."})."""
from urllib.parse import urlsplit

HIDDEN = "***"
CHANGED = "(changed)"


def visible(field: str, value):
    """`value` of task field `field` as any role may see it."""
    if field == "task_env" and isinstance(value, dict):
        return {name: item if isinstance(item, str) else HIDDEN for name, item in value.items()}
    if field == "task_notify" and isinstance(value, dict) and value.get("webhook"):
        webhook = value["webhook"]
        return {**value, "webhook": scheme_and_host(webhook) if isinstance(webhook, str) else HIDDEN}
    return value


def scheme_and_host(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return HIDDEN
    if not parts.scheme or not host:
        return HIDDEN
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}"


def shown(field: str, before, after) -> tuple:
    """(before, after) of a change of `field` as any role may see it. Where a secret part changed but looks the
    same once hidden, the new side says CHANGED instead, so the change is seen and the value is not."""
    seen_before, seen_after = visible(field, before), visible(field, after)
    return seen_before, _mark(before, after, seen_before, seen_after)


def _mark(before, after, seen_before, seen_after):
    if isinstance(seen_after, dict) and isinstance(seen_before, dict) and isinstance(before, dict) \
            and isinstance(after, dict):
        return {key: _mark(before.get(key), value, seen_before.get(key), seen_after[key]) if key in before else
                seen_after[key] for key, value in after.items()}
    if before != after and seen_before == seen_after:
        return f"{seen_after} {CHANGED}" if isinstance(seen_after, str) else CHANGED
    return seen_after
