"""The task log before a run (made, private, the run's user's) and the engine's start / end lines in it, written
through the one descriptor `prepare` opened (O_NOFOLLOW) and rotated by size as the engine's other logs are.

The run's preparation holds that descriptor until the run ends or is discarded (a run held for its slot: at most
two per worker), so the engine never opens the log's path again for the run's lines: no second open, and no moment
in which a symlink put in the log's place would be followed."""
import logging
import os
import stat
import threading
import time
from pathlib import Path

from django.conf import settings

from tasks_app.logs.setup import DATE_FORMAT, formatter, must_roll_over, shift_backups

log = logging.getLogger("TaskExecutor")

NAME = "TaskExecutor"  # the logger name in the lines, as the engine's own log calls this part
_rotating = threading.Lock()  # two runs of one task ending together rotate its log once
# O_NOFOLLOW: neither the file's ownership nor the engine's lines are ever handed on through a symlink.
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC


class TaskLog:
    """One run's writer of its task log: each line LOG_FORMAT's (local time, as logging.Formatter writes it) and
    one os.write on an O_APPEND descriptor, so the engine's lines, an overlapping run's and the script's own never
    mix within a line. Writing never raises: a log that cannot be written is said once in the engine's log."""

    def __init__(self, path, fd=None, run_as=None, made=False):
        self.path, self.fd, self.run_as, self.made = Path(path), fd, run_as, made
        self._failed = False

    def info(self, message, *args) -> None:
        self.write("INFO", message % args if args else message)

    def error(self, message, *args) -> None:
        self.write("ERROR", message % args if args else message)

    def write(self, level: str, message: str) -> None:
        text = f"{time.strftime(DATE_FORMAT, time.localtime())} - {level} - {NAME} - {message}\n"
        self.write_text(text, len(message))

    def write_text(self, text: str, message_length: int) -> None:
        """`text` (whole lines) appended; message_length feeds the rotation rule (logs/setup.must_roll_over)."""
        try:
            if self.fd is None:  # a run never prepared that far (its script unfit): opened now, as safely
                self.fd, self.made = _open_as_it_is(self.path)
            if must_roll_over(self.fd, message_length, settings.LOG_MAX_BYTES):
                self._roll_over()
            data = text.encode("utf-8", "backslashreplace")
            while data:
                data = data[os.write(self.fd, data):]
        except OSError as exc:
            if not self._failed:
                self._failed = True
                log.warning("Cannot write the task log %s: %s", self.path, exc)

    def _roll_over(self) -> None:
        """The engine's rule for every log (logs/setup.shift_backups): the log becomes .1, .1 becomes .2 ... and a
        new log is made as `prepare` makes it. A log moved away by another run meanwhile is not moved again: this
        run goes on in the new one."""
        with _rotating:
            mine = os.fstat(self.fd)
            try:
                now = os.lstat(self.path)
                rotated = (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino)
            except FileNotFoundError:
                rotated = True
            if not rotated:
                if settings.LOG_BACKUP_COUNT <= 0:
                    return  # nowhere to keep it: the log goes on growing, as logging's own handler lets it
                shift_backups(str(self.path), settings.LOG_BACKUP_COUNT)
            fd, _made = _open_private(self.path, self.run_as)
            os.close(self.fd)
            self.fd = fd

    def logger(self) -> logging.Logger:
        """A logging.Logger that writes here: run.log of a task type that performs its run (docs/plugins.md)."""
        logger = logging.Logger(NAME, logging.INFO)  # not logging's registered one: nothing goes to sys.log
        logger.propagate = False
        logger.addHandler(_Handler(self))
        return logger

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Handler(logging.Handler):
    def __init__(self, task_log):
        super().__init__()
        self.task_log = task_log
        self.setFormatter(formatter())

    def emit(self, record):
        text = self.format(record)
        self.task_log.write_text(text + "\n", len(record.getMessage()))


def prepare(path, run_as) -> TaskLog:
    """Before a run: the log exists, is a regular file of the user the run runs as (run_as: identity.RunAs, or
    None for the engine's own user) with mode 0600, and the folders from LOGS_DIR down to it can be entered,
    so the script can write its log and a task running as another user cannot read it. The TaskLog returned holds
    the log open (its .made: whether this made the file); its owner closes it."""
    path = Path(path)
    if run_as is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        logs = Path(settings.LOGS_DIR).resolve()
        for folder in [path.parent, *path.parent.parents]:
            if not folder.is_relative_to(logs):
                break
            mode = folder.stat().st_mode & 0o7777
            if mode & 0o111 != 0o111:
                os.chmod(folder, mode | 0o111)  # enterable, still not listable
    fd, made = _open_private(path, run_as)
    return TaskLog(path, fd, run_as, made)


def _open_private(path, run_as) -> tuple[int, bool]:
    """(descriptor, whether this made the file) of the log as a regular file of the run's user, mode 0600."""
    uid, gid = (run_as.uid, run_as.gid) if run_as is not None else (os.geteuid(), os.getegid())
    try:
        fd, made = _open(path)
    except FileNotFoundError:  # its folder is missing: made only then (its first run, or a clean-up removed it)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd, made = _open(path)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path} is not a regular file")
        if (info.st_uid, info.st_gid) != (uid, gid):
            os.fchown(fd, uid, gid)
        if info.st_mode & 0o7777 != 0o600:
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd, made


def _open_as_it_is(path) -> tuple[int, bool]:
    """(descriptor, whether this made the file) for the lines of a run that was never prepared: a regular file,
    whoever's it is (it stays the user's its last prepared run gave it to), or a new one of the engine's, 0600."""
    try:
        fd, made = _open(path)
    except FileNotFoundError:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd, made = _open(path)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return fd, made


def _open(path) -> tuple[int, bool]:
    """(descriptor, whether this made the file). The log of a task that ran before exists: one open, where making
    sure of its folder first and trying O_EXCL were two more system calls at every run."""
    try:
        return os.open(path, _FLAGS), False
    except FileNotFoundError:
        pass
    try:
        return os.open(path, _FLAGS | os.O_CREAT | os.O_EXCL, 0o600), True
    except FileExistsError:  # made by someone else meanwhile
        return os.open(path, _FLAGS), False
