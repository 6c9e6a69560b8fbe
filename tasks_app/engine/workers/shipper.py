"""LogShipper: a Celery worker's thread that copies what its runs write on this machine, the task's log lines and the
run's captured output, into the database (models.ExecutionLogChunk) every SHIP_EVERY seconds, masked, so that the
pages and the API of any web node show them while the run goes and after this worker is gone.

The files stay as they are (the runner writes them as for a local run); the shipper follows them as `tail -F`
does: by an open descriptor and a byte position, reading on after a rotation from the renamed file and then the
new one. What it ships is bounded as the files are: a log that grows faster than the database takes it is
skipped ahead (a marker line says how much), never more than the task's central log keeps (LOG_MAX_BYTES x
(LOG_BACKUP_COUNT + 1)); the output follows the output file's cuts to SCHEDULER_OUTPUT_LIMIT."""
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.db import Error as DatabaseError
from django.db import close_old_connections, transaction

from tasks_app.definition.paths import task_log_file
from tasks_app.models import ExecutionLogChunk
from tasks_app.models.logchunk import CHUNK_MAX, central_log_cap
from tasks_app.secrets import keys

log = logging.getLogger("TaskExecutor")

# With the log page polling every second, a line shows on every web node within 2 s of being written, with a
# margin for a loaded machine; a round with nothing new costs an fstat per file, no query.
SHIP_EVERY = 0.25
# At most this much is read from one file per round; the rest comes with the next.
ROUND_MAX = 8 * 1024 * 1024


@dataclass
class Follow:
    """One file followed from a byte position, through rotation (a new file at the path) and truncation."""

    path: Path
    pos: int = 0
    fd: int | None = None
    ino: int | None = None
    cut: bool = False  # truncated in place since the last read (the output's cut to its limit)

    def start_at_end(self) -> None:
        """Follow from the current end: only what is written from now on."""
        if self._open():
            self.pos = os.fstat(self.fd).st_size

    def read(self, limit: int) -> bytes:
        if self.fd is None and not self._open():
            return b""
        size = os.fstat(self.fd).st_size
        if size < self.pos:
            self.pos, self.cut = 0, True
        data = os.pread(self.fd, min(limit, size - self.pos), self.pos)
        self.pos += len(data)
        if len(data) < limit and self._rotated():
            os.close(self.fd)
            self.fd, self.pos = None, 0  # the renamed file is read to its end; the new one from its start
            return data + self.read(limit - len(data))
        return data

    def backlog(self) -> int:
        if self.fd is None and not self._open():
            return 0
        return max(0, os.fstat(self.fd).st_size - self.pos)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _open(self) -> bool:
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:  # not there yet (the run creates it), or not a file we may read
            return False
        self.ino = os.fstat(self.fd).st_ino
        return True

    def _rotated(self) -> bool:
        try:
            return os.stat(self.path).st_ino != self.ino
        except OSError:
            return False  # renamed and not made again yet: the next round looks again


@dataclass
class Stream:
    """A followed file and what was read of it but not yet in the database."""

    kind: str  # "log" (the task's log, one central log for all its runs) or "output" (one run's)
    follow: Follow
    task_pk: int
    masker: object
    owners: list = field(default_factory=list)  # the execution ids shipping it (a log: the runs of its task here)
    last_owner: int | None = None  # once every run ended: the run whose rest it still ships
    seq: int = 0
    unsent: list = field(default_factory=list)  # masked pieces of at most CHUNK_MAX bytes
    restart: bool = False

    @property
    def execution_pk(self) -> int | None:
        """The run its chunks are written for (a log shared by several runs: the oldest going)."""
        return self.owners[0] if self.owners else self.last_owner

    def take(self, final: bool) -> bool:
        """Read what is new (at most ROUND_MAX), mask it and cut it into pieces; True when the file was read to its
        end. The masker holds back what may be the start of a secret until more comes; a line's end lets it go (a
        secret does not span lines), so a line is shipped whole and at once; `final`: the end of the file is the
        end of the stream."""
        data = self.follow.read(ROUND_MAX)
        if self.follow.cut:
            self.follow.cut = False
            self.masker.flush()
            if self.kind == "output":  # cut to its limit: what was stored goes, as it went from the file
                self.restart, self.unsent = True, []
            # A log truncated in place (logrotate's copytruncate) simply goes on from its new start.
        drained = len(data) < ROUND_MAX
        masked = self.masker.feed(data)
        if (final and drained) or data.endswith(b"\n"):
            masked += self.masker.flush(cut=not final)
        self.unsent += [masked[i:i + CHUNK_MAX] for i in range(0, len(masked), CHUNK_MAX)]
        return drained


class LogShipper:
    def __init__(self, node):
        self.node = node
        self._lock = threading.Lock()  # the two maps below
        self._shipping = threading.Lock()  # one round or one run's finish at a time: they read the same files
        self._logs: dict[Path, Stream] = {}  # one per task log file, shared by the runs of its task here
        self._outputs: dict[int, Stream] = {}
        self._leftovers: list = []  # (stream, final) of ended runs whose rest the database refused: next rounds

    # The runs.

    def begin(self, execution) -> None:
        """Before a run starts: follow its task's log from its current end and its output file from its start."""
        path = task_log_file(execution.task)
        with self._lock:
            stream = self._logs.get(path)
            if stream is None:
                masker = keys.masker_for(execution.task.task_env)
                stream = self._logs[path] = Stream("log", Follow(path), execution.task_id, masker)
                stream.follow.start_at_end()
            stream.owners.append(execution.pk)
            self._outputs[execution.pk] = Stream("output", Follow(execution.output_path), execution.task_id,
                                                 keys.masker_for(execution.task.task_env), [execution.pk])

    def finish(self, execution, truncated: bool) -> None:
        """After the run ended (its files are complete): ship the rest, before its end is recorded, so a reader
        who sees the run ended finds all of it. `truncated`: the output was cut at the end, so it is sent again
        whole (at most SCHEDULER_OUTPUT_LIMIT bytes)."""
        path = task_log_file(execution.task)
        with self._shipping:
            with self._lock:
                output = self._outputs.pop(execution.pk, None)
                stream = self._logs.get(path)
                last = stream is not None and stream.owners == [execution.pk]
                if last:
                    del self._logs[path]
            items = []
            if output is not None:
                if truncated:
                    output.follow.close()
                    output.follow, output.unsent, output.restart = Follow(output.follow.path), [], True
                    output.masker.flush()
                items.append((output, True))
            if stream is not None:
                items.append((stream, last))
            for each, _ in items:
                if execution.pk in each.owners and (each is output or last):
                    each.owners.remove(execution.pk)
                    each.last_owner = execution.pk
            try:
                # A transaction per ROUND_MAX of each file: what is held in memory stays bounded.
                while self._store(items) is None:
                    pass
            except DatabaseError:
                # The files are still here: the next rounds ship the rest (the run's end waits for the database too).
                with self._lock:
                    self._leftovers += [(each, True) for each, final in items if final]
                raise
            finally:
                if stream is not None and execution.pk in stream.owners:
                    stream.owners.remove(execution.pk)
            for each, final in items:
                if final:
                    each.follow.close()

    # The thread.

    def run(self) -> None:
        while not self.node._done.wait(SHIP_EVERY):
            self.ship_round()

    def ship_round(self) -> int:
        """Ship what every followed file has new, in one transaction; returns how many pieces went."""
        with self._shipping:
            with self._lock:
                streams = list(self._logs.values()) + list(self._outputs.values())
                leftovers, self._leftovers = self._leftovers, []
            if not streams and not leftovers:
                return 0
            try:
                close_old_connections()
                sent = self._store([(stream, False) for stream in streams] + leftovers)
            except DatabaseError as exc:
                with self._lock:
                    self._leftovers = leftovers + self._leftovers
                self.node.trouble.failed("shipping run logs", exc)
                return 0
            if sent is None:  # a leftover has more than a round's worth still
                with self._lock:
                    self._leftovers = leftovers + self._leftovers
            else:
                for stream, _ in leftovers:
                    stream.follow.close()
        self.node.trouble.ok("shipping run logs")
        return sent or 0

    def _store(self, items) -> int | None:
        """Read, mask and insert what is new in each (stream, final) of `items`: one transaction, so a round costs
        one commit however many runs go. What could not be inserted stays for the next round, bounded by the cap.
        Returns how many pieces went, or None when a file has more to read than one round reads."""
        taken, drained = [], True
        for stream, final in items:
            if stream.execution_pk is None:
                continue
            if stream.kind == "log":
                self._skip_ahead(stream)
            drained = stream.take(final) and drained
            if stream.unsent or stream.restart:
                taken.append(stream)
        if not taken:
            return 0 if drained else None
        # Logs in the order of their tasks: two workers lock task rows in one order, never waiting on each other.
        taken.sort(key=lambda stream: (stream.kind, stream.task_pk))
        seqs = {}
        try:
            with transaction.atomic():
                ExecutionLogChunk.without_waiting_for_the_disk()
                for stream in taken:
                    if stream.kind == "log":
                        seqs[id(stream)] = ExecutionLogChunk.append_log(
                            stream.task_pk, stream.execution_pk, stream.unsent, stream.seq)
                    else:
                        seqs[id(stream)] = ExecutionLogChunk.append_output(
                            stream.task_pk, stream.execution_pk, stream.unsent, stream.seq, restart=stream.restart)
        except DatabaseError:
            for stream in taken:
                stream.unsent = stream.unsent[-(central_log_cap() // CHUNK_MAX + 1):]
            raise
        sent = 0
        for stream in taken:
            sent += len(stream.unsent)
            stream.seq, stream.unsent, stream.restart = seqs[id(stream)], [], False
        return sent if drained else None

    def _skip_ahead(self, stream: Stream) -> None:
        """A log written faster than it is shipped: keep to its newest cap of bytes, as its rotated files would."""
        behind = stream.follow.backlog() + sum(len(p) for p in stream.unsent)
        cap = central_log_cap()
        if behind <= cap:
            return
        skipped = behind - cap // 2  # half: room for what comes next before the cap drops the marker
        stream.follow.pos += max(0, skipped - sum(len(p) for p in stream.unsent))
        stream.unsent = []
        stream.masker.flush()
        stream.unsent.append(f"[{skipped} bytes of this log were written faster than they could be copied to the "
                             f"database: they are only in the file on {self.node.name}]\n".encode())
        log.warning("Task log %s: %d bytes not shipped (written faster than shipped)", stream.follow.path, skipped)
