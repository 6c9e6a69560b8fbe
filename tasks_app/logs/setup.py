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
        """RotatingFileHandler's rule (roll over before a line that would take the file to maxBytes; never roll
        over anything but a regular file) at a third of its cost: one fstat of the open file, where the standard
        one stats the path twice, seeks and tells, and formats the record a second time only to measure it. The
        engine writes a few lines per run; they were a tenth of its CPU per run. The line's length is estimated
        (its message and a prefix of a usual length), so a file may roll over a line sooner or later than before."""
        if self.stream is None:  # delay was set
            self.stream = self._open()
        if self.maxBytes <= 0:
            return False
        info = os.fstat(self.stream.fileno())
        if not stat.S_ISREG(info.st_mode):  # bpo-45401: /dev/null, a pipe
            return False
        return info.st_size + len(record.getMessage()) + LINE_PREFIX >= self.maxBytes


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
