"""Captured stdout/stderr of one execution: a file the run writes straight into (its shepherd in between when
the task has secrets, to mask them), kept to the last SCHEDULER_OUTPUT_LIMIT bytes with a marker line saying it
was cut."""
import os

from django.conf import settings

# While a run is going, its file may grow to this many times the limit before it is cut in place:
# cutting is a copy, so doing it rarely keeps a chatty script cheap, and the disk is still protected.
RUNNING_SLACK = 8


def limit() -> int:
    return int(settings.SCHEDULER_OUTPUT_LIMIT)


def marker(kept: int) -> bytes:
    return f"[output truncated: kept the last {kept} bytes]\n".encode()


def open_output(path) -> int:
    """A fresh output file for the child's stdout and stderr. O_APPEND, so that writes after a cut in
    place land at the new end instead of leaving a hole. The task's folder is made when the file cannot be
    opened without it (its first run, or after a clean-up removed it), not checked at every run."""
    flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
    try:
        return os.open(path, flags, 0o600)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags, 0o600)


def _keep_tail(fd: int, size: int, keep: int) -> None:
    """Replace the file's content by a marker and its last `keep` bytes (fd must be writable, O_APPEND)."""
    tail = os.pread(fd, keep, size - keep)
    os.ftruncate(fd, 0)
    os.write(fd, marker(keep) + tail)


def check_running(fd: int) -> bool:
    """Called about once a second while the child runs; True if the file was cut."""
    size = os.fstat(fd).st_size
    if size <= limit() * RUNNING_SLACK:
        return False
    # Bytes the child writes between the read and the truncate are lost: acceptable for a runaway.
    _keep_tail(fd, size, limit())
    return True


def finish(fd: int, cut_while_running: bool) -> bool:
    """After the child's group is gone: cut to the limit. True if the output was truncated at any point."""
    size = os.fstat(fd).st_size
    keep = limit()
    if size > keep + (len(marker(keep)) if cut_while_running else 0):
        _keep_tail(fd, size, keep)
        return True
    return cut_while_running

