"""conf/tasks.json written by a thread of each web process (`serve`'s workers) rather than inside the request.

A request that changed tasks answers once its change is committed to the database, the source of truth; the
thread then renders the file from the whole database, so edits that arrive while it writes, or within SPACING of
its last rendering, are all in its next one (one write for many). An edit is never lost from the file: every
rendering holds every change committed before it, the thread writes what is pending before its process exits
(SIGTERM, Ctrl-C), and after a web process was killed outright the next one to start catches up (mirror.catch_up).
Elsewhere (commands, the admin's tests, the scheduler) nothing is started and the file is written in the caller,
as before."""
import logging
import threading
import time

from django.db import close_old_connections

from .mirror import catch_up, mirror_tasks_file

log = logging.getLogger("SchedulerEngine")
SPACING = 1.0  # seconds between two renderings of one process, at least


class MirrorWriter:
    def __init__(self):
        self._lock = threading.Lock()
        self._wanted = threading.Condition(self._lock)
        self._pending: list[tuple[str, str]] = []  # (actor, via) of the changes not yet in the file
        self._writing = False
        self._stopping = False
        self._last = -SPACING  # when the last rendering started (time.monotonic())
        self._thread = threading.Thread(target=self._run, name="tasks.json writer", daemon=True)
        self._thread.start()

    def request(self, actor, via):
        with self._lock:
            self._pending.append((actor, via))
            self._wanted.notify()

    def flush(self, timeout=30.0):
        """Write what is pending and stop the thread (before the process exits)."""
        with self._lock:
            self._stopping = True
            self._wanted.notify()
        self._thread.join(timeout)

    def _run(self):
        try:
            close_old_connections()
            catch_up()
        except Exception:
            log.exception("conf/tasks.json could not be brought up to date with the database")
        while True:
            with self._lock:
                while not self._pending and not self._stopping:
                    self._wanted.wait()
                # A rendering reads and writes the whole file (about 25 ms of CPU for 100 tasks, on the GIL the
                # requests need): under a stream of edits, wait out SPACING since the last one so that the
                # edits of that time share one. The first edit after a quiet spell is written at once.
                while not self._stopping and (wait := self._last + SPACING - time.monotonic()) > 0:
                    self._wanted.wait(wait)
                if not self._pending:
                    return
                changes, self._pending = self._pending, []
                self._last = time.monotonic()
            actors = ", ".join(sorted({actor for actor, _ in changes}))
            vias = ", ".join(sorted({via for _, via in changes}))
            try:
                close_old_connections()
                mirror_tasks_file(actor=actors, via=vias, after_change=True)
            except Exception:
                # The database holds the changes; the next change (or export_tasks) writes the file again.
                log.exception("conf/tasks.json could not be rewritten after a change by %s via %s", actors, vias)


_writer: MirrorWriter | None = None


def start() -> MirrorWriter:
    """Write conf/tasks.json from a thread of this process from now on (a web process calls it once)."""
    global _writer
    if _writer is None:
        _writer = MirrorWriter()
    return _writer


def mirror_soon(actor, via) -> bool:
    """Hand the rewrite to this process's writer thread; False when there is none (write it yourself)."""
    if _writer is None:
        return False
    _writer.request(actor, via)
    return True


def stop():
    """Write what is pending; later changes are written by their callers again."""
    global _writer
    if _writer is not None:
        writer, _writer = _writer, None
        writer.flush()
