"""Where a task's script and log file really are, and dependency cycles: helpers of TaskLoader that the engine
and the pages use too, so a path is checked and used by one rule."""
import functools
import os
import stat
from pathlib import Path

from django.conf import settings

from tasks_app.private_files import engine_file_reason, real_folder

from .fields import default_log_path


def _relative_parts(value):
    """The parts of a relative POSIX path, or None when it is absolute, empty or climbs with `..`. The parts are
    PurePosixPath's (empty and "." parts dropped), found with str.split: LogOwners reads every task's log, and
    pathlib's parsing made one edit among 50,000 tasks take seconds."""
    if not value or "\x00" in value or value.startswith("/"):
        return None
    parts = tuple(part for part in value.split("/") if part not in ("", "."))
    if ".." in parts or not parts:
        return None
    return parts


def _join(folder: str, parts) -> str:
    return folder.rstrip("/") + "/" + "/".join(parts)


def _locate(parts, folder: str, prefix: str, root: str | None = None) -> str:
    """Where a relative path points, by the same rule as the engine (engine/childenv.py): relative to the project
    root when that lands inside `folder` ("tasks/x.py"); else a "tasks/..." or "logs/..." prefix (as conf/tasks.json
    writes them) stands for the folder wherever a setting moved it; else relative to the folder itself ("x.py").
    Resolved folders in, a path as text out (what str(Path) would give): no pathlib per task (see above)."""
    from_root = _join(root or str(Path(settings.BASE_DIR).resolve()), parts)
    if from_root == folder or from_root.startswith(folder.rstrip("/") + "/"):
        return from_root
    if len(parts) > 1 and parts[0] == prefix:
        return _join(folder, parts[1:])
    return _join(folder, parts)


def _file_system_refusals_as_value_errors(func):
    """A name the file system refuses (too long, a loop of symlinks) is bad input like any other, not a crash."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except OSError as exc:
            raise ValueError(f"the file system refuses it ({exc.strerror or exc})") from None

    return wrapper


@_file_system_refusals_as_value_errors
def resolve_exec_path(task_exec, tasks_dir=None) -> Path:
    """The real path (symlinks resolved) of the script a task runs: an existing, readable regular file inside
    TASKS_DIR, or ValueError saying why not. "tasks/test_task.py" (as conf/tasks.json writes it) and "test_task.py"
    name the same file; what the user wrote is kept in the task."""
    return _resolve_exec(task_exec, tasks_dir)[1]


def _resolve_exec(task_exec, tasks_dir=None) -> tuple[Path, Path]:
    """(the path as located, its real path) by resolve_exec_path's rule."""
    folder = Path(tasks_dir or settings.TASKS_DIR).resolve()
    parts = _relative_parts(task_exec)
    if parts is None:
        raise ValueError("not a relative path inside the tasks folder")
    path = Path(_locate(parts, str(folder), "tasks"))
    if not (path.exists() or path.is_symlink()):
        raise ValueError("no such file in the tasks folder")
    real = path.resolve()
    if not real.is_relative_to(folder):
        raise ValueError("it leads outside the tasks folder")
    if not real.is_file():
        raise ValueError("it is not a regular file")
    if not os.access(real, os.R_OK):
        raise ValueError("it is not readable")
    return path, real


_resolved_exec = {}  # (task_exec, TASKS_DIR) -> (the path as located, its real path, _identity of the located one)


def _identity(info) -> tuple:
    # st_ctime changes with any chmod, chown, rename or link of the file: then the checks are made again.
    return info.st_dev, info.st_ino, info.st_mode, info.st_uid, info.st_gid, info.st_ctime_ns


@_file_system_refusals_as_value_errors
def resolve_exec_path_again(task_exec) -> Path:
    """resolve_exec_path for a script checked before, as the engine does at every run: the last answer while one
    os.stat of the path as written (following every symlink on the way) finds the same file unchanged; a
    symlink pointed elsewhere, a file replaced, moved or made unreadable is checked again in full."""
    key = (task_exec, str(settings.TASKS_DIR))
    known = _resolved_exec.get(key)
    if known is not None:
        located, real, seen = known
        try:
            if _identity(os.stat(located)) == seen:
                return real
        except OSError:
            pass
    located, real = _resolve_exec(task_exec)
    _resolved_exec[key] = (located, real, _identity(os.stat(located)))
    return real


@_file_system_refusals_as_value_errors
def resolve_log_path(task_log, task_id="", logs_dir=None) -> Path:
    """A task's log file, by the same rule inside LOGS_DIR: a `*.log` file (it need not exist yet) that is none
    of the engine's own (private_files.engine_file_reason). Empty means the default logs/task_{task_id}.log.
    Whether another task writes it is LogOwners' question: it needs the other tasks."""
    return _resolve_log(task_log, task_id, real_folder(logs_dir or settings.LOGS_DIR))[1]


def _resolve_log(task_log, task_id, folder: Path) -> tuple[str, Path]:
    """(the path as located, its real path) by resolve_log_path's rule, in the resolved logs folder `folder`."""
    parts = _relative_parts(task_log or default_log_path(task_id))
    if parts is None:
        raise ValueError("not a relative path inside the logs folder")
    located = _locate(parts, str(folder), "logs", str(real_folder(settings.BASE_DIR)))
    real = Path(located).resolve()
    if not real.is_relative_to(folder) or real == folder:
        raise ValueError("it leads outside the logs folder")
    reason = engine_file_reason(real, folder)
    if reason:
        raise ValueError(reason)
    if real.is_dir():
        raise ValueError("it is a folder")
    if not (_is_log_name(parts[-1]) and _is_log_name(real.name)):
        raise ValueError("a task's log must be a file whose name ends in .log")
    if real.exists() and not real.is_file():
        raise ValueError("it is not a regular file")
    return located, real


# (task_log, task_id, LOGS_DIR) -> (real logs folder, path as located, real path, _unchanged's identities)
_resolved_logs = {}


@_file_system_refusals_as_value_errors
def resolve_log_path_again(task_log, task_id="") -> Path:
    """resolve_log_path in LOGS_DIR for a log resolved before, as the engine does at every run: the last answer
    while the logs folder resolves to the same place and the file system shows the same path (_unchanged); the
    engine's folders are checked each time (they may have moved). A log or a folder on its way swapped for a
    symlink, replaced or moved is resolved and checked again in full; a log that does not exist yet is resolved each
    time. Resolving it in full (a realpath, a stat of each folder on its way, pathlib's parsing) was 0.18 ms a run."""
    folder = real_folder(settings.LOGS_DIR)
    key = (task_log, task_id, str(settings.LOGS_DIR))
    known = _resolved_logs.get(key)
    if known is not None and known[0] == folder and _unchanged(*known[1:]):
        reason = engine_file_reason(known[2], folder)
        if reason:
            raise ValueError(reason)
        return known[2]
    located, real = _resolve_log(task_log, task_id, folder)
    try:
        seen = _identities(located, real, folder)
    except OSError:  # not there yet: resolved again next time
        _resolved_logs.pop(key, None)
        return real
    if seen is not None:
        if len(_resolved_logs) >= 50_000:
            _resolved_logs.clear()
        _resolved_logs[key] = (folder, located, real, seen)
    return real


def _identities(located: str, real: Path, folder: Path):
    """What _unchanged compares: (dev, ino) of the log as located (following symlinks), of the real path's file and
    of each folder between the logs folder and it (not following them: each must still be that very folder, not a
    symlink to it moved elsewhere). None unless the real path is a regular file."""
    info = os.lstat(real)
    if not stat.S_ISREG(info.st_mode):
        return None
    target = os.stat(located)
    folders = []
    parent = real.parent
    while parent != folder and parent.is_relative_to(folder):
        mark = os.lstat(parent)
        folders.append((str(parent), (mark.st_dev, mark.st_ino)))
        parent = parent.parent
    return (target.st_dev, target.st_ino), (info.st_dev, info.st_ino), tuple(folders)


def _unchanged(located: str, real: Path, seen) -> bool:
    """Whether the log as located still leads to the same file, the real path is still that regular file (no
    symlink in its place) and each folder between the logs folder and it is still the same folder, no symlink."""
    target, file, folders = seen
    try:
        info = os.lstat(real)
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != file:
            return False
        if located != str(real):
            info = os.stat(located)
        if (info.st_dev, info.st_ino) != target:
            return False
        for path, mark in folders:
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode) or (info.st_dev, info.st_ino) != mark:
                return False
    except OSError:
        return False
    return True


def default_log_name(task_id) -> str:
    """The file name of a task's default log, inside LOGS_DIR (PurePosixPath's .name, by str.split)."""
    return next((part for part in reversed(default_log_path(task_id).split("/")) if part not in ("", ".")), "")


def _is_log_name(name: str) -> bool:
    return name.endswith(".log") and len(name) > len(".log")


class LogOwners:
    """Which task each log file belongs to, so that no task writes another's: logs/task_<id>.log is always
    task <id>'s (whatever it names), and a log a task names is that task's. `logs` maps every other known
    task id to its task_log ("" for the default). Paths are compared as written and as resolved."""

    def __init__(self, logs: dict):
        self.folder = str(Path(settings.LOGS_DIR).resolve())
        self.root = str(Path(settings.BASE_DIR).resolve())
        self.owners = _owners(self.folder, self.root, frozenset(logs.items()))

    def default(self, task_id) -> str:
        return _join(self.folder, [default_log_name(task_id)])

    def _written(self, task_log) -> str | None:
        parts = _relative_parts(task_log) if isinstance(task_log, str) else None
        return None if parts is None else _locate(parts, self.folder, "logs", self.root)

    def other_owner(self, task_id, task_log) -> str | None:
        """The id of another task whose log `task_log` is, or None (a task's own default is always its own)."""
        places = {self._written(task_log)}
        try:
            places.add(str(resolve_log_path(task_log, task_id)))
        except ValueError:
            pass
        if self.default(task_id) in places:
            return None
        others = {owner for place in places for owner in self.owners.get(place, ()) if owner != task_id}
        return min(others) if others else None


@functools.lru_cache(maxsize=4)
def _owners(folder: str, root: str, logs: frozenset) -> dict:
    """{place as text (what str(Path) gives): the ids of the tasks that write it}. Kept for the next edit while no
    task's log changes: built from every task, it was most of an API edit's validation (a path per task)."""
    owners: dict[str, set] = {}
    for task_id, task_log in logs:
        written = None
        if task_log:
            parts = _relative_parts(task_log) if isinstance(task_log, str) else None
            written = None if parts is None else _locate(parts, folder, "logs", root)
        for place in (_join(folder, [default_log_name(task_id)]), written):
            if place is not None:
                owners.setdefault(place, set()).add(task_id)
    return owners


def find_cycle(graph, start):
    """A dependency path from `start` back to itself ([start, ..., start]), or None. graph: id -> [ids].
    Iterative, so a chain of thousands of tasks cannot exhaust the recursion limit."""
    path, seen, stack = [start], {start}, [iter(graph.get(start, ()))]
    while stack:
        nxt = next(stack[-1], _END)
        if nxt is _END:
            stack.pop()
            path.pop()
        elif nxt == start:
            return path + [start]
        elif nxt not in seen and nxt in graph:
            seen.add(nxt)  # fully explored without reaching start: no need to come back
            path.append(nxt)
            stack.append(iter(graph[nxt]))
    return None


_END = object()


def task_log_file(task) -> Path:
    """The log file a task's runs write and the pages and the API read (it may not exist yet). A task_log the
    loader would refuse (saved before the rule existed) falls back to the default, in LOGS_DIR."""
    try:
        return resolve_log_path_again(task.task_log, task.task_id)
    except ValueError:
        return Path(settings.LOGS_DIR).resolve() / default_log_name(task.task_id)
