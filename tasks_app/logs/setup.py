"""One logging setup for the engine and for task scripts, in one format:
`2023-07-17 10:30:45 - INFO - SchedulerEngine - message`, UTF-8, rotated by size."""
import logging
import logging.handlers
import os
import stat
from pathlib import Path

LOG_FORMAT = "%(asctime)s - %(levelname)s - %(name)s - %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUP_COUNT = 5
LINE_PREFIX = 48  # characters of LOG_FORMAT's line before the message, about: date, level and logger name


def formatter():
    return logging.Formatter(LOG_FORMAT, DATE_FORMAT)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Creates its file (and each new one after a rotation) readable by its owner only, whatever the umask."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)

    def shouldRollover(self, record):
        """RotatingFileHandler's rule at a third of its cost (must_roll_over: one fstat of the open file, where the
        standard one stats the path twice, seeks and tells, and formats the record a second time only to measure
        it). The engine writes a few lines per run; they were a tenth of its CPU per run."""
        if self.stream is None:  # delay was set
            self.stream = self._open()
        return must_roll_over(self.stream.fileno(), len(record.getMessage()), self.maxBytes)

    def doRollover(self):
        if self.stream:
            self.stream.close()
            self.stream = None
        shift_backups(self.baseFilename, self.backupCount)
        if not self.delay:
            self.stream = self._open()


def must_roll_over(fd, message_length, max_bytes) -> bool:
    """Whether a line with a message of message_length characters starts a new file: RotatingFileHandler's rule
    (roll over before a line that would take the file to max_bytes; never roll over anything but a regular file),
    for every log of the engine (sys.log, the task logs). The line's length is estimated (its message and a prefix
    of a usual length), so a file may roll over a line sooner or later than logging's own handler would."""
    if max_bytes <= 0:
        return False
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # bpo-45401: /dev/null, a pipe
        return False
    return info.st_size + message_length + LINE_PREFIX >= max_bytes


def shift_backups(path: str, backup_count: int) -> None:
    """RotatingFileHandler's rollover of the files: path.1 becomes path.2 ... (the last one dropped), path becomes
    path.1; nothing moves without backups. The caller opens the new file."""
    if backup_count <= 0:
        return
    for i in range(backup_count - 1, 0, -1):
        older, newer = f"{path}.{i}", f"{path}.{i + 1}"
        if os.path.exists(older):
            if os.path.exists(newer):
                os.remove(newer)
            os.rename(older, newer)
    first = f"{path}.1"
    if os.path.exists(first):
        os.remove(first)
    if os.path.exists(path):
        os.rename(path, first)


def make_file_handler(path, max_bytes=DEFAULT_MAX_BYTES, backup_count=DEFAULT_BACKUP_COUNT):
    """A size-rotated UTF-8 file handler; creates the folder. Also the factory LOGGING uses for sys.log."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = PrivateRotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8", delay=True
    )
    handler.setFormatter(formatter())
    return handler


def setup_logger(name, log_file=None, console=True, level=logging.INFO,
                 max_bytes=DEFAULT_MAX_BYTES, backup_count=DEFAULT_BACKUP_COUNT):
    """A logger writing to `log_file` (rotated) and, if asked, to the console.

    Calling it again for the same name and file adds no second handler, so no line is written twice.
    """
    logger = logging.getLogger(name)
    logger.setLevel(level)
    logger.propagate = False
    wanted = os.path.abspath(log_file) if log_file else None
    have_file = any(
        isinstance(h, logging.FileHandler) and os.path.abspath(h.baseFilename) == wanted
        for h in logger.handlers
    )
    if wanted and not have_file:
        logger.addHandler(make_file_handler(wanted, max_bytes, backup_count))
    have_console = any(type(h) is logging.StreamHandler for h in logger.handlers)
    if console and not have_console:
        handler = logging.StreamHandler()
        handler.setFormatter(formatter())
        logger.addHandler(handler)
    return logger
