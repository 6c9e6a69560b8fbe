"""What a task's process is started with: the script's resolved path, the shepherd's command line (never the
engine's pid, never the task's environment), the shepherd's spec, and a clean environment that holds none
of the engine's secrets."""
import datetime
import hashlib
import os
import sys
import zoneinfo
from pathlib import Path

from django.conf import settings

from tasks_app.definition.envnames import check_task_env
from tasks_app.definition.paths import resolve_exec_path_again
from tasks_app.secrets import keys, masking

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
SHEPHERD = Path(__file__).resolve().with_name("run_shepherd.py")
# The shepherd, which imports nothing of the product, loads the one masker from its file for a run with secrets.
MASKING_MODULE = str(Path(masking.__file__).resolve())
# The script's interpreter ignores every PYTHON* variable and the user's site folder, and keeps unbuffered
# UTF-8 output. The script runs in the shepherd's interpreter, so these are the shepherd's own flags.
INTERPRETER_FLAGS = ("-E", "-s", "-u", "-X", "utf8")
# The shepherd's own environment: nothing of the engine's nor of the task's.
SHEPHERD_ENV = {"PATH": SAFE_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class ScriptPathError(ValueError):
    """task_exec does not name a readable script inside TASKS_DIR."""


def script_path(task_exec: str) -> Path:
    """The real path of a task's script, by the loader's rule (tasks_app.definition.paths); ScriptPathError if it
    is not a readable file inside TASKS_DIR. Checked at every run, not only when the task is saved:
    the file or a symlink may have changed since (one os.stat tells whether it has)."""
    try:
        return resolve_exec_path_again(task_exec)
    except ValueError as exc:
        raise ScriptPathError(f"task_exec {task_exec!r}: {exc}") from None


def task_python() -> str:
    """The interpreter task scripts run with: SCHEDULER_PYTHON, or the engine's own (by its absolute path,
    not resolved, so that a virtualenv's packages stay importable)."""
    return settings.SCHEDULER_PYTHON or os.path.abspath(sys.executable)


def project_token() -> str:
    """Tells this project's and database's runs apart from another scheduler's on the same machine."""
    db = settings.DATABASES["default"]
    seed = f"{settings.BASE_DIR}|{db.get('HOST', '')}|{db.get('PORT', '')}|{db.get('NAME', '')}"
    return hashlib.sha1(seed.encode()).hexdigest()[:10]


def run_label(execution_id) -> str:
    """<project token>-<execution id>: names a run's shepherd (its command line) and cgroup."""
    return f"{project_token()}-{execution_id}"


def command(script: Path, execution_id) -> list[str]:
    """The shepherd's argument list (never a shell). The run's label and the script are there only so that
    ps shows what a shepherd (and the script's process, a fork of it) belongs to, and crash recovery finds
    them."""
    return [task_python(), *INTERPRETER_FLAGS, str(SHEPHERD), run_label(execution_id), str(script)]


def shepherd_spec(script: Path, env: dict, run_as, plan, result_fd: int, mask=(), exec_argv=None) -> dict:
    """The JSON the shepherd reads first from its control pipe. run_as: identity.RunAs or None; plan:
    limits.LimitPlan; mask: the task's secret values, whose forms the shepherd masks in the run's output (the
    values are in `env` already: the pipe is private to the engine and the shepherd, unlike a command line);
    exec_argv: the command a task type other than python runs instead of the script in Python (the shell type:
    the file itself, by its #! line), executed after the same set-up."""
    return {
        "script": str(script), "argv": [str(script)], "cwd": str(settings.BASE_DIR), "env": env,
        "user": run_as.spec() if run_as is not None else None, "umask": 0o077 if run_as is not None else None,
        "rlimits": plan.rlimits, "fallback_rlimits": plan.fallback_rlimits, "cgroup": plan.cgroup,
        "kill_grace": float(settings.SCHEDULER_KILL_GRACE), "result_fd": result_fd,
        "mask": {"module": MASKING_MODULE, "forms": masking.all_forms(mask)} if mask else None,
        "exec": [str(part) for part in exec_argv] if exec_argv else None,
    }


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _base_env(run_as) -> dict:
    venv_bin = os.path.dirname(task_python())
    home = run_as.home if run_as is not None else os.environ.get("HOME") or os.path.expanduser("~")
    return {
        "PATH": f"{venv_bin}:{SAFE_PATH}",
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONUNBUFFERED": "1",
    }


def run_env(task, execution) -> dict:
    """The stored task_env of this run: the task's, with the run's one-off values (env_overrides) over it."""
    return {**(task.task_env or {}), **(getattr(execution, "env_overrides", None) or {})}


def run_secrets(task, execution) -> list[str]:
    """Every secret text the run's output must not show: the task's secrets (also those an override replaced)
    and the overrides that replace one."""
    return keys.secret_texts(task.task_env) + keys.secret_texts(getattr(execution, "env_overrides", None))


def child_env(task, execution, log_file: Path, run_as=None) -> dict:
    """A clean environment: nothing is copied from the engine's own (DJANGO_SECRET_KEY, DATABASE_URL,
    passwords, tokens never reach a task) except HOME (the run-as user's own home when there is one). Then
    task_env (with the run's one-off values over it), then the administrator's SCHEDULER_TASK_ENV (task_env
    cannot override it), then the ids. Secrets are opened here and nowhere else on the way to the script (they
    travel in the shepherd's spec, never on a command line). A task_env saved before a name was refused raises
    RefusedEnvNames (a ValueError naming the keys): the run fails instead of starting."""
    stored = run_env(task, execution)
    check_task_env(stored)
    plain, _secrets = keys.open_env(stored)  # SecretUnreadable (a ValueError naming the key): no run
    env = _base_env(run_as)
    env["TZ"] = task.timezone_name or settings.TIME_ZONE
    env["TASK_NAME"] = task.task_name
    env["TASK_LOG"] = str(log_file)
    for key, value in plain.items():
        env[str(key)] = _text(value)
    env.update(settings.SCHEDULER_TASK_ENV)
    env["TASK_ID"] = task.task_id
    env["TASK_EXECUTION_ID"] = str(execution.execution_id)
    moment = execution.scheduled_for()
    if moment is not None:
        # The slot the run stands for (a backfill's past day, a late scheduled run), in the task's zone.
        env["TASK_SCHEDULED_TIME"] = scheduled_time_text(moment, env["TZ"])
    return env


def scheduled_time_text(moment, zone_name: str) -> str:
    """TASK_SCHEDULED_TIME: ISO 8601 with the task's zone offset, e.g. 2025-10-09T09:00:00+08:00."""
    try:
        zone = zoneinfo.ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.timezone.utc
    return moment.astimezone(zone).isoformat()
