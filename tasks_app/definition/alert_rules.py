"""The keys of task_alerts, a task's alert rules, with their kinds, limits and built-in defaults; the settings'
TASK_ALERTS (the global defaults) and each task's own task_alerts are checked by the same function. Pure: no
Django, so the settings can check TASK_ALERTS at start-up."""

# name: (kind, built-in default, what it means)
RULES = {
    "on_failure": (bool, True, "alert when a run fails (after its last retry), times out or is lost"),
    "failures_in_row": (int, 1, "alert on failure only from the Nth failure in a row on"),
    "on_recovery": (bool, True, "alert on the first success after failures that were alerted"),
    "on_success": (bool, False, "alert on every success"),
    "state_change_only": (bool, False, "alert only when the outcome changes (the first failure, the first success)"),
    "quiet_period": (int, 0, "seconds after a failure alert during which further failure alerts are held back; "
                             "the next one says how many failures there were since when"),
    "on_missed": (bool, True, "alert when a slot passed without a run starting"),
    "on_overrun": (bool, True, "alert when a run goes on past its expected duration"),
}
LIMITS = {"failures_in_row": (1, 1000), "quiet_period": (0, 2**31 - 1)}
BUILT_IN = {name: default for name, (_kind, default, _words) in RULES.items()}


def problems(value, field="task_alerts") -> list[str]:
    """What is wrong with an alert-rules object, each message naming the key and the value; [] if nothing."""
    if not isinstance(value, dict):
        return [f"{field} must be an object such as {{\"failures_in_row\": 3, \"quiet_period\": 3600}}, got "
                f"{type(value).__name__} {value!r:.80}."]
    found = []
    for key, item in value.items():
        if key not in RULES:
            found.append(f"Unknown field {field}.{key}; {field} takes {', '.join(RULES)}.")
            continue
        kind = RULES[key][0]
        if kind is bool and not isinstance(item, bool):
            found.append(f"{field}.{key} must be true or false, got {item!r:.80}.")
        elif kind is int and (isinstance(item, bool) or not isinstance(item, int)):
            found.append(f"{field}.{key} must be a whole number, got {item!r:.80}.")
        elif kind is int:
            low, high = LIMITS[key]
            if not low <= item <= high:
                found.append(f"{field}.{key} must be between {low} and {high}, got {item}.")
    return found


def effective(task_alerts: dict | None, defaults: dict | None) -> dict:
    """The rules that apply to a task: the built-in defaults, then the settings' TASK_ALERTS, then its own."""
    return {**BUILT_IN, **(defaults or {}), **(task_alerts or {})}
