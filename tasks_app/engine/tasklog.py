"""The engine's start / end / result lines in each task's own log, through logger_helper's rotated handler.

One logger per log file, created once; its file is closed after each run's last line, so 10,000 tasks
do not hold 10,000 open files (the next line simply reopens it)."""
import logging
import os
import stat
import threading
from pathlib import Path

from django.conf import settings

from tasks_app.logs.setup import make_file_handler

_loggers: dict[str, logging.Logger] = {}
_lock = threading.Lock()


def task_logger(path) -> logging.Logger:
    key = str(path)
    logger = _loggers.get(key)
    if logger is not None:
        return logger
    with _lock:
        logger = _loggers.get(key)
        if logger is None:
            # Not registered with logging's manager: named "TaskExecutor" in the lines it writes, but a
            # separate object from the sys.log logger of that name, so no line goes to both.
            logger = logging.Logger("TaskExecutor", logging.INFO)
            logger.propagate = False
            logger.addHandler(make_file_handler(key, settings.LOG_MAX_BYTES, settings.LOG_BACKUP_COUNT))
            _loggers[key] = logger
    return logger


def release(path) -> None:
    """Close the log's file until its next line (the handler stays, with delay=True it reopens)."""
    logger = _loggers.get(str(path))
    if logger is None:
        return
    for handler in logger.handlers:
        handler.acquire()
        try:
            if handler.stream is not None:
                handler.stream.close()
                handler.stream = None
        finally:
            handler.release()


def prepare(path, run_as) -> bool:
    """Before a run: the log exists, is a regular file of the user the run runs as (run_as: identity.RunAs, or
    None for the engine's own user) with mode 0600, and the folders from LOGS_DIR down to it can be entered,
    so the script can write its log and a task running as another user cannot read it. True if it made the file."""
    path = Path(path)
    uid, gid = (run_as.uid, run_as.gid) if run_as is not None else (os.geteuid(), os.getegid())
    if run_as is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        logs = Path(settings.LOGS_DIR).resolve()
        for folder in [path.parent, *path.parent.parents]:
            if not folder.is_relative_to(logs):
                break
            mode = folder.stat().st_mode & 0o7777
            if mode & 0o111 != 0o111:
                os.chmod(folder, mode | 0o111)  # enterable, still not listable
    # O_NOFOLLOW: ownership is never handed over through a symlink.
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd, made = _open(path, flags)
    except FileNotFoundError:  # its folder is missing: made only then (its first run, or a clean-up removed it)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, made = _open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path} is not a regular file")
        if (info.st_uid, info.st_gid) != (uid, gid):
            os.fchown(fd, uid, gid)
        if info.st_mode & 0o7777 != 0o600:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return made


def _open(path, flags) -> tuple[int, bool]:
    """(descriptor, whether this made the file). The log of a task that ran before exists: one open, where making
    sure of its folder first and trying O_EXCL were two more system calls at every run."""
    try:
        return os.open(path, flags), False
    except FileNotFoundError:
        pass
    try:
        return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600), True
    except FileExistsError:  # made by someone else meanwhile
        return os.open(path, flags), False
