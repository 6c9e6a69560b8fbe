"""The engine's start / end / result lines in each task's own log, through logger_helper's rotated handler.

One logger per log file, created once; its file is closed after each run's last line, so 10,000 tasks
do not hold 10,000 open files (the next line simply reopens it)."""
import logging
import threading

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
