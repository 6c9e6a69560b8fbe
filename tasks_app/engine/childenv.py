"""What a task's process is started with: the script's resolved path, the command line (a tiny bootstrap
that sets the parent-death signal), and a clean environment that holds none of the engine's secrets."""
import os
import sys
from pathlib import Path

from django.conf import settings

from tasks_app.definition.envnames import check_task_env
from tasks_app.definition.paths import resolve_exec_path
from tasks_app.secrets import keys

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"

# Run as `python -c BOOTSTRAP <engine pid> <script> [args]`. It asks the kernel to SIGKILL this process when
# the engine thread that started it dies, then runs the script exactly as `python script.py` would
# (sys.argv, sys.path[0], __main__). _ctypes is used directly because importing the ctypes package costs
# ~2 ms per launch; ctypes is the fallback. preexec_fn would do the same in the parent but forces fork()
# instead of vfork(), which costs tens of ms once the engine is large.
BOOTSTRAP = """\
def _b():
    import sys
    try:
        import _ctypes
        class I(_ctypes._SimpleCData): _type_ = "i"
        class L: _handle = _ctypes.dlopen(None)
        class F(_ctypes.CFuncPtr): _flags_ = _ctypes.FUNCFLAG_CDECL; _restype_ = I
        F(("prctl", L()))(1, 9)
    except Exception:
        import ctypes
        ctypes.CDLL(None).prctl(1, 9)
    import os
    if os.getppid() != int(sys.argv[1]):
        os.kill(os.getpid(), 9)  # the engine died before the signal was armed
    script = sys.argv[2]
    del sys.argv[:2]
    sys.path[0] = os.path.dirname(script)
    with open(script, "rb") as f:
        code = compile(f.read(), script, "exec")
    g = globals()
    del g["_b"]
    g["__file__"] = script
    g["__cached__"] = None
    return code
exec(_b(), globals())
"""


class ScriptPathError(ValueError):
    """task_exec does not name a readable script inside TASKS_DIR."""


def script_path(task_exec: str) -> Path:
    """The real path of a task's script, by the loader's rule (tasks_app.definition.paths); ScriptPathError if it
    is not a readable file inside TASKS_DIR. Checked at every run, not only when the task is saved:
    the file or a symlink may have changed since."""
    try:
        return resolve_exec_path(task_exec)
    except ValueError as exc:
        raise ScriptPathError(f"task_exec {task_exec!r}: {exc}") from None


def command(script: Path) -> list[str]:
    """The argument list (never a shell): the engine's own interpreter, by absolute path."""
    return [os.path.abspath(sys.executable), "-c", BOOTSTRAP, str(os.getpid()), str(script)]


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _base_env() -> dict:
    venv_bin = os.path.dirname(os.path.abspath(sys.executable))
    return {
        "PATH": f"{venv_bin}:{SAFE_PATH}",
        "HOME": os.environ.get("HOME") or os.path.expanduser("~"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONUNBUFFERED": "1",
    }


def child_env(task, execution, log_file: Path) -> dict:
    """A clean environment: nothing is copied from the engine's own (DJANGO_SECRET_KEY, DATABASE_URL,
    passwords, tokens never reach a task) except HOME. Then task_env, then the administrator's
    SCHEDULER_TASK_ENV (task_env cannot override it), then the ids. Secrets are opened here and nowhere else
    on the way to the script (never on a command line). A task_env saved before a name was
    refused raises RefusedEnvNames (a ValueError naming the keys): the run fails instead of starting."""
    check_task_env(task.task_env or {})
    plain, _secrets = keys.open_env(task.task_env)  # SecretUnreadable (a ValueError naming the key): no run
    env = _base_env()
    env["TZ"] = task.timezone_name or settings.TIME_ZONE
    env["TASK_NAME"] = task.task_name
    env["TASK_LOG"] = str(log_file)
    for key, value in plain.items():
        env[str(key)] = _text(value)
    env.update(settings.SCHEDULER_TASK_ENV)
    env["TASK_ID"] = task.task_id
    env["TASK_EXECUTION_ID"] = str(execution.execution_id)
    return env
