"""What any role may see of a task's field values in the audit trail and the versions: never a secret value, only
that it is there and whether it changed. `visible` is the one rule every reader goes through (the diff through
`shown`); which values are secrets is tasks_app.secrets.values' rule: a stored secret ({"encrypted": ...}) shows
as ***, a webhook URL as its scheme and host."""
from tasks_app.secrets.values import ENV_FIELD, HIDDEN, NOTIFY_FIELD, is_encrypted, public_value

CHANGED = "(changed)"


def visible(field: str, value):
    """`value` of task field `field` as any role may see it."""
    if field == ENV_FIELD and isinstance(value, dict):
        # Anything but plain text is hidden: a stored secret, or a value of a shape no rule knows.
        return {name: HIDDEN if is_encrypted(item) or not isinstance(item, str) else item
                for name, item in value.items()}
    if field == NOTIFY_FIELD:
        return public_value(field, value)
    return value


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
