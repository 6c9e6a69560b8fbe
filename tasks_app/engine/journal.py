"""The pid journal: which process each running execution started, kept outside the database so recording
it costs no commit. Read only when a scheduler starts after another one died, to kill what it left."""
import os
import threading

from tasks_app.private_files import run_dir


class PidJournal:
    """An append-only file LOGS_DIR/run/<worker>.pids of "execution_id pid" lines, one per started child.
    Appending to an open file is a few microseconds, where a file per run cost a create and an unlink;
    the file is compacted to the running entries when it grows past COMPACT_AT bytes."""

    COMPACT_AT = 256 * 1024

    def __init__(self, worker: str):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in worker)
        self.path = run_dir() / f"{safe}.pids"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._running: dict[int, int] = {}
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._size = os.fstat(self._fd).st_size

    def record(self, execution_id: int, pid: int) -> None:
        """From an executor thread, when the child has started."""
        line = f"{execution_id} {pid}\n".encode()
        with self._lock:
            if self._fd is None:
                return
            os.write(self._fd, line)
            self._size += len(line)
            self._running[execution_id] = pid

    def started(self, execution_id: int) -> bool:
        """Whether the run's process has started (its pid is recorded)."""
        return execution_id in self._running

    def done(self, execution_id: int) -> None:
        with self._lock:
            self._running.pop(execution_id, None)
            if self._size > self.COMPACT_AT and self._fd is not None:
                self._compact()

    def _compact(self):
        data = "".join(f"{e} {p}\n" for e, p in self._running.items()).encode()
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self._size = len(data)

    def close(self, remove: bool = True) -> None:
        """At a clean shutdown every run has been recorded: the journal is not needed any more."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if remove and not self._running:
                try:
                    self.path.unlink()
                except FileNotFoundError:
                    pass


def read_pids() -> dict[int, int]:
    """execution id -> pid from every journal left in LOGS_DIR/run (by schedulers that are gone)."""
    found = {}
    try:
        journals = sorted(run_dir().glob("*.pids"))
    except OSError:
        return found
    for path in journals:
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                execution_id, pid = map(int, line.split())
            except ValueError:
                continue  # a line cut short by the crash
            found[execution_id] = pid
    return found


def remove_journals() -> None:
    for path in run_dir().glob("*.pids"):
        try:
            path.unlink()
        except OSError:
            pass
