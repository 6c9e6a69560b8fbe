"""The engine's own files and the modes that keep them private: the database, the secret key, conf/ and its
backups, sys.log, the run journal, captured outputs, e-mails and task logs. Every process of the product starts
with umask 077 (manage.py, wsgi.py), and runscheduler, serve and bootstrap put back the modes an older version
left open. Owners are never changed (a task log may belong to the user its runs run as)."""
import logging
import os
import stat
from pathlib import Path

from django.conf import settings

log = logging.getLogger("SchedulerEngine")

PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
FOLDER_MODE = 0o700
# Enterable, not listable: a run-as user reaches its own task log by name but cannot see the other files.
LOGS_FOLDER_MODE = 0o711
SYS_LOG = "sys.log"
SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal", ".scheduler.lock")
SECRET_FILES = (".secret_key", ".admin_password", ".secrets_key")


def use_private_umask() -> None:
    """Called first thing by every process of the product, so whatever it creates is readable by it alone."""
    os.umask(PRIVATE_UMASK)


def run_dir() -> Path:
    """The folder of the run journal (engine/journal.py): which process each running execution started."""
    return Path(settings.LOGS_DIR) / "run"


_real_folders = {}  # a folder as configured -> (its real path, (st_dev, st_ino) of the folder it leads to)
# A missing folder as configured -> (its real path, its nearest existing folder, that one's (st_dev, st_ino), the
# first missing name below it).
_missing_folders = {}


def real_folder(path) -> Path:
    """Path(path).resolve() of a configured folder, remembered while one os.stat of it as configured (following
    every symlink on the way) finds the same folder: a run's preparation asks for the logs folder and the engine's
    folders at every run, and resolving them again was most of its cost. A folder that does not exist (yet), such
    as the default e-mail folder, is remembered while its nearest existing folder is the same one and the first
    missing name below it is still missing (no symlink made there since)."""
    key = os.fspath(path)
    try:
        info = os.stat(key)
    except FileNotFoundError:
        return _real_missing_folder(key)
    except OSError:
        return Path(key).resolve()
    known = _real_folders.get(key)
    if known is not None and known[1] == (info.st_dev, info.st_ino):
        return known[0]
    real = Path(key).resolve()
    _real_folders[key] = (real, (info.st_dev, info.st_ino))
    return real


def _real_missing_folder(key: str) -> Path:
    known = _missing_folders.get(key)
    if known is not None:
        real, existing, seen, first_missing = known
        try:
            info = os.stat(existing)
        except OSError:
            info = None
        if info is not None and (info.st_dev, info.st_ino) == seen and not os.path.lexists(first_missing):
            return real
    real = Path(key).resolve()
    _missing_folders[key] = _missing_entry(key, real)
    return real


def _missing_entry(key: str, real: Path):
    """What _real_missing_folder checks for `key` (absolute, no "." or ".." parts), or None."""
    if not os.path.isabs(key) or any(part in (".", "..") for part in key.split("/")):
        return None
    first_missing = key.rstrip("/") or "/"
    existing = os.path.dirname(first_missing)
    while True:
        try:
            info = os.stat(existing)
            break
        except FileNotFoundError:
            if existing == "/":
                return None
            first_missing, existing = existing, os.path.dirname(existing)
        except OSError:
            return None
    if os.path.lexists(first_missing):  # a dangling symlink: resolve each time
        return None
    return real, existing, (info.st_dev, info.st_ino), first_missing


def engine_folders_in_logs() -> dict[str, Path]:
    """What each folder of the engine's own (they may lie inside LOGS_DIR) holds -> its real path."""
    folders = {"the run journal": run_dir(), "captured outputs": settings.EXECUTION_OUTPUT_DIR}
    if getattr(settings, "EMAIL_FILE_PATH", None):
        folders["e-mails"] = settings.EMAIL_FILE_PATH
    return {what: real_folder(folder) for what, folder in folders.items()}


def engine_file_reason(path: Path, logs_dir: Path) -> str | None:
    """Why `path` (resolved) is one of the engine's files that no task may write, or None. Compared as text (both
    are resolved): pathlib's relative_to parsed both paths again for each folder, at every run of every task."""
    text = os.fspath(path)
    head, name = os.path.split(text)
    if head == os.fspath(logs_dir) and (name == SYS_LOG or name.startswith(SYS_LOG + ".")):
        return "it is the engine's own log"
    for what, folder in engine_folders_in_logs().items():
        folder = os.fspath(folder)
        if text == folder or text.startswith(folder.rstrip("/") + "/"):
            return f"it is inside the folder of {what}"
    return None


def sqlite_file() -> Path | None:
    db = settings.DATABASES["default"]
    name = str(db.get("NAME") or "")
    if not db["ENGINE"].endswith("sqlite3") or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


class _Fixer:
    def __init__(self):
        self.changed = []  # (path, old mode, new mode)
        self.failed = []  # (path, reason)

    def set(self, path: Path, mode: int) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            self.failed.append((path, exc.strerror or str(exc)))
            return
        if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == mode:
            return  # a symlink's target is not ours to change
        try:
            os.chmod(path, mode)
        except OSError as exc:  # e.g. a task log owned by another user when the engine is not root
            self.failed.append((path, exc.strerror or str(exc)))
            return
        self.changed.append((path, stat.S_IMODE(st.st_mode), mode))

    def tree(self, folder: Path, folder_mode=FOLDER_MODE) -> None:
        """`folder` gets `folder_mode`, every folder below it FOLDER_MODE and every file FILE_MODE."""
        if not folder.is_dir() or folder.is_symlink():
            return
        self.set(folder, folder_mode)
        for root, dirs, files in os.walk(folder):  # does not follow symlinks
            for name in dirs:
                self.set(Path(root) / name, FOLDER_MODE)
            for name in files:
                self.set(Path(root) / name, FILE_MODE)


def fix_private_files() -> list[tuple[Path, int, int]]:
    """Give every engine file its private mode; returns what changed as (path, old mode, new mode).

    Files 0600 and folders 0700: the SQLite database and its side files, .secret_key, .admin_password, all of
    CONF_DIR (conf/tasks.json, conf/backups/), and inside LOGS_DIR sys.log and its rotations, run/, executions/,
    the e-mail folder and every task log. LOGS_DIR itself, and folders of task logs, are 0711. The project root
    and TASKS_DIR are left alone: a run-as user must reach its script."""
    fixer = _Fixer()
    base = Path(settings.BASE_DIR)
    for name in SECRET_FILES:
        fixer.set(base / name, FILE_MODE)
    fixer.set(Path(settings.SECRETS_KEY_FILE), FILE_MODE)  # where SCHEDULER_SECRETS_KEY_FILE puts it
    db = sqlite_file()
    if db is not None:
        for suffix in SQLITE_SIDE_FILES:
            fixer.set(Path(str(db) + suffix), FILE_MODE)
    fixer.tree(Path(settings.CONF_DIR))
    logs = Path(settings.LOGS_DIR)
    engine_folders = set(engine_folders_in_logs().values())
    if logs.is_dir() and not logs.is_symlink():
        fixer.set(logs, LOGS_FOLDER_MODE)
        for root, dirs, files in os.walk(logs):
            for name in list(dirs):
                path = Path(root) / name
                if path.resolve() in engine_folders:
                    dirs.remove(name)  # done below, with its own modes
                else:
                    fixer.set(path, LOGS_FOLDER_MODE)
            for name in files:
                fixer.set(Path(root) / name, FILE_MODE)
    for folder in engine_folders:
        fixer.tree(folder)
    if fixer.changed:  # one line, not one per file: an old install may hold thousands of captured outputs
        shown = ", ".join(f"{path} ({oct(old)} -> {oct(new)})" for path, old, new in fixer.changed[:5])
        more = f" and {len(fixer.changed) - 5} more" if len(fixer.changed) > 5 else ""
        log.info("Set the modes of %d engine file(s) an older version or the umask left otherwise: %s%s",
                 len(fixer.changed), shown, more)
    for path, reason in fixer.failed[:5]:
        log.warning("Could not make %s private: %s", path, reason)
    return fixer.changed
