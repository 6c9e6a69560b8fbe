"""One-off task_env values for one run (run now, the API's execute, a trigger URL's body): allowed only for a
task whose task_allow_overrides is true, by the names task_env may set (envnames.py), with task_env's limits.
A value that overrides one of the task's secrets, or is given as {"secret": "..."}, is sealed like a secret:
stored encrypted on the execution, never shown, masked in the run's output. Errors are under "env"."""
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from tasks_app.secrets import keys
from tasks_app.secrets.values import SECRET, is_encrypted

from .envnames import refused_env_names
from .fields import FIELD
from .loader import TaskValidationError
from .secret_rules import env_value
from .shown import kind_of, show

ENV = "env"  # the name of the body's field, in every error


def clean_overrides(task, env) -> dict | None:
    """The stored form of `env` for a run of `task` (None for no overrides); TaskValidationError({"env": [...]})
    naming each problem."""
    if env is None or env == {}:
        return None
    if not task.task_allow_overrides:
        raise TaskValidationError({ENV: [_("Task %(id)s does not allow parameters at run time "
                                           "(task_allow_overrides is false).") % {"id": task.task_id}]})
    if not isinstance(env, dict):
        raise TaskValidationError({ENV: [_("env must be an object of names to text values, got %(kind)s.")
                                         % {"kind": kind_of(env)}]})
    field = FIELD["task_env"]
    if len(env) > field.max_items:
        raise TaskValidationError({ENV: [_("env has %(count)d entries; at most %(limit)d are allowed.")
                                         % {"count": len(env), "limit": field.max_items}]})
    refused = dict(refused_env_names(env))
    problems, out = [], {}
    for key, item in env.items():
        if key in refused:
            problems.append(_("env name %(key)s is refused: %(reason)s.") % {"key": show(key), "reason": refused[key]})
            continue
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)  # {"COUNT": 3} from a JSON client means "3"
        if isinstance(item, dict) and set(item) != {SECRET}:
            problems.append(_("env value of %(key)s must be text or {\"secret\": \"text\"}, got %(kind)s.")
                            % {"key": show(key), "kind": kind_of(item)})
            continue
        try:
            value = env_value(key, item, None, field.max_value_bytes)
        except ValidationError as exc:
            problems.extend(str(m).replace("task_env", "env", 1) for m in exc.messages)
            continue
        if isinstance(value, str) and is_encrypted((task.task_env or {}).get(key)):
            value = keys.seal(value)  # it replaces a secret: kept and shown like one
        out[key] = value
    if problems:
        raise TaskValidationError({ENV: problems})
    return out


def shown_overrides(overrides) -> list[tuple[str, str | None]]:
    """[(name, value)] as every role sees them: None for a secret's value."""
    return [(key, None if is_encrypted(value) else value) for key, value in (overrides or {}).items()]
