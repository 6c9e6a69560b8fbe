"""What a task's process is started with: the script's resolved path, the command line (a tiny bootstrap
that sets the parent-death signal), and a clean environment that holds none of the engine's secrets."""
import os
import sys
from pathlib import Path

from django.conf import settings

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


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _relocatable(value: str, folder: Path, default_name: str) -> Path:
    """A path as the document writes it ("tasks/x.py", "logs/task_x.log": relative to the project root),
    or plain ("x.py": relative to `folder`). When the folder is moved by a setting, the document's
    "tasks/..." / "logs/..." prefix follows it, so a shipped configuration keeps working."""
    p = Path(value)
    if p.is_absolute():
        return p
    from_root = Path(os.path.normpath(settings.BASE_DIR / p))
    if _inside(from_root, folder):
        return from_root
    if len(p.parts) > 1 and p.parts[0] == default_name:
        return folder.joinpath(*p.parts[1:])
    return folder / p


def script_path(task_exec: str) -> Path:
    """The real path of a task's script; ScriptPathError if it is not a readable file inside TASKS_DIR.

    Checked at every run, not only when the task is saved: a symlink may have changed since."""
    if not task_exec or "\x00" in task_exec:
        raise ScriptPathError(f"task_exec {task_exec!r}: no script named")
    tasks_dir = Path(os.path.realpath(settings.TASKS_DIR))
    real = Path(os.path.realpath(_relocatable(task_exec, tasks_dir, "tasks")))
    if not _inside(real, tasks_dir):
        raise ScriptPathError(f"task_exec {task_exec!r}: {real} is outside the tasks folder {tasks_dir}")
    if not real.is_file():
        raise ScriptPathError(f"task_exec {task_exec!r}: script not found ({real})")
    if not os.access(real, os.R_OK):
        raise ScriptPathError(f"task_exec {task_exec!r}: script not readable ({real})")
    return real


def task_log_file(task) -> Path:
    """The absolute path of a task's log (`task_log`, default logs/task_{task_id}.log)."""
    return Path(os.path.normpath(_relocatable(task.log_path, Path(settings.LOGS_DIR), "logs")))


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
    passwords, tokens never reach a task) except HOME. task_env may override anything but the ids."""
    env = _base_env()
    env["TZ"] = task.timezone_name or settings.TIME_ZONE
    env["TASK_NAME"] = task.task_name
    env["TASK_LOG"] = str(log_file)
    for key, value in (task.task_env or {}).items():
        env[str(key)] = _text(value)
    env["TASK_ID"] = task.task_id
    env["TASK_EXECUTION_ID"] = str(execution.execution_id)
    return env
