"""Captured stdout/stderr of one execution: a file the child writes straight into (no reader thread), or through
a masking pipe when its task has secrets, kept to the last SCHEDULER_OUTPUT_LIMIT bytes with a marker line
saying it was cut."""
import os
import select
import threading

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
    place land at the new end instead of leaving a hole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)


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


class MaskedPipe:
    """The output of a run whose task has secrets: the child writes into a pipe, and a thread masks what comes
    (tasks_app.secrets.masking, holding back what may be the start of a secret) and appends it to the output
    file, so no secret is ever stored. A run without secrets writes straight into the file instead."""

    POLL_MS = 100

    def __init__(self, out_fd: int, masker):
        self.out_fd = out_fd
        self.masker = masker
        self.read_fd, self.write_fd = os.pipe2(os.O_CLOEXEC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="output-mask", daemon=True)

    def started(self) -> None:
        """After the child was started with write_fd as its stdout and stderr: the child holds its own copy."""
        os.close(self.write_fd)
        self.write_fd = None
        self._thread.start()

    def abandon(self) -> None:
        """The child was never started."""
        for fd in (self.write_fd, self.read_fd):
            if fd is not None:
                os.close(fd)
        self.write_fd = self.read_fd = None

    def finish(self, timeout: float = 5.0) -> None:
        """After the child's group is gone: the last bytes masked and written. A process that escaped the group
        and still holds the pipe is not waited for beyond `timeout`."""
        self._thread.join(timeout)
        self._stop.set()
        self._thread.join()

    def _pump(self):
        poller = select.poll()
        poller.register(self.read_fd, select.POLLIN)
        try:
            while True:
                if not poller.poll(self.POLL_MS):
                    if self._stop.is_set():
                        break
                    continue
                data = os.read(self.read_fd, 65536)
                if not data:
                    break
                _write_all(self.out_fd, self.masker.feed(data))
            _write_all(self.out_fd, self.masker.flush())
        finally:
            os.close(self.read_fd)
            self.read_fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
