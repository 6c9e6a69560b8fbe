"""Central logs: a run's task log lines and captured output as the database holds them when it ran on a Celery
worker, in chunks that the worker ships while the run goes (engine/workers/shipper.py), with the size limits the
local files have; and ChunkFile, which reads one stream of chunks as a file, so the log reader, the output tail
and the downloads read them as they read a local file."""
import io

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Exists, F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# A chunk holds at most this many bytes: a read of 64 KiB (logs/tail.py's block) touches at most two.
CHUNK_MAX = 64 * 1024
# A reader fetches this much around what it asks for, so a backward scan of a long log is one query per MiB.
READ_WINDOW = 1024 * 1024


class LogStream(models.TextChoices):
    LOG = "log", _("Task log")
    OUTPUT = "output", _("Captured output")


def central_log_cap() -> int:
    """Bytes of a task's central log kept: what its rotated files keep on a machine (LOG_MAX_BYTES for the file
    and each of LOG_BACKUP_COUNT older ones); whole chunks go, so up to one chunk more may stay."""
    return int(settings.LOG_MAX_BYTES) * (int(settings.LOG_BACKUP_COUNT) + 1)


class ExecutionLogChunk(models.Model):
    id = models.BigAutoField(primary_key=True)
    task = models.ForeignKey("tasks_app.Task", on_delete=models.CASCADE, related_name="+")
    # Output chunks are deleted with their run (housekeeping deletes them as it deletes an output file); log
    # chunks outlive it, as the task's log file outlives its runs, until the task's log passes its size cap.
    execution = models.ForeignKey("tasks_app.TaskExecution", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="log_chunks")
    stream = models.CharField(max_length=6, choices=LogStream.choices)
    seq = models.PositiveIntegerField(help_text=_("The shipper's count of the chunks of this stream"))
    # log: where the chunk starts in the task's central log (one byte sequence for all its runs, on any worker);
    # output: where it starts in the run's captured output.
    offset = models.BigIntegerField()
    size = models.PositiveIntegerField()
    # Bytes, as the run wrote them (masked): a script may write anything, a NUL byte included, and the readers
    # count in bytes.
    data = models.BinaryField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Also the indexes the readers walk, by offset.
            models.UniqueConstraint(fields=["task", "offset"], condition=Q(stream="log"), name="log_chunk_task_offset"),
            models.UniqueConstraint(fields=["execution", "offset"], condition=Q(stream="output"),
                                    name="output_chunk_run_offset"),
        ]

    def __str__(self):
        return f"{self.stream} of {self.task_id}#{self.execution_id} at {self.offset} ({self.size} bytes)"

    # Writing (the worker's shipper).

    @classmethod
    def append_log(cls, task_pk: int, execution_pk: int | None, pieces, seq: int) -> int:
        """Add `pieces` (bytes, each at most CHUNK_MAX) at the end of the task's central log; returns the next seq.
        Runs of one task on several workers append in turn: the task's row is locked while the end is read and
        the chunks inserted, so offsets never overlap and a reader never sees a later chunk before an earlier."""
        pieces = [p for p in pieces if p]
        if not pieces:
            return seq
        tasks = cls._meta.get_field("task").related_model.objects
        runs = cls._meta.get_field("execution").related_model.objects
        with transaction.atomic(savepoint=False):  # a part of the shipper's round when it is in one
            row = (tasks.select_for_update(no_key=True).filter(pk=task_pk)
                   .annotate(run_exists=Exists(runs.filter(pk=execution_pk))).values_list("run_exists").first())
            if row is None:
                return seq  # the task was deleted meanwhile, and its log with it
            if not row[0]:
                execution_pk = None  # its run was deleted (the admin): its lines still belong to the task's log
            chunks = cls.objects.filter(task_id=task_pk, stream=LogStream.LOG)
            last = chunks.order_by("-offset").values_list("offset", "size").first()
            end = sum(last) if last else 0
            seq = cls._insert(task_pk, execution_pk, LogStream.LOG, pieces, end, seq)
            end += sum(len(p) for p in pieces)
            # The oldest chunks wholly beyond the cap go, as a rotated file's oldest backup does.
            oldest = end - central_log_cap()
            if oldest > 0:
                beyond = chunks.filter(offset__lt=oldest).annotate(stop=F("offset") + F("size"))
                beyond.filter(stop__lte=oldest).delete()
        return seq

    @classmethod
    def append_output(cls, task_pk: int, execution_pk: int, pieces, seq: int, *, restart: bool = False) -> int:
        """Add `pieces` at the end of a run's captured output (only its worker writes it); `restart`: the output
        file was cut (kept to its last SCHEDULER_OUTPUT_LIMIT bytes), so what was stored goes and it starts again."""
        pieces = [p for p in pieces if p]
        if not pieces and not restart:
            return seq
        with transaction.atomic(savepoint=False):  # a part of the shipper's round when it is in one
            chunks = cls.objects.filter(execution_id=execution_pk, stream=LogStream.OUTPUT)
            if restart:
                chunks.delete()
                end = 0
            else:
                last = chunks.order_by("-offset").values_list("offset", "size").first()
                end = sum(last) if last else 0
            runs = cls._meta.get_field("execution").related_model.objects
            if not end and not runs.filter(pk=execution_pk).exists():
                return seq  # the run was deleted meanwhile (its task, the admin): its output goes with it
            return cls._insert(task_pk, execution_pk, LogStream.OUTPUT, pieces, end, seq)

    @classmethod
    def _insert(cls, task_pk, execution_pk, stream, pieces, offset, seq) -> int:
        now, rows = timezone.now(), []
        for piece in pieces:
            rows.append(cls(task_id=task_pk, execution_id=execution_pk, stream=stream, seq=seq, offset=offset,
                            size=len(piece), data=piece, created=now))
            offset += len(piece)
            seq += 1
        cls.objects.bulk_create(rows)
        return seq

    @staticmethod
    def without_waiting_for_the_disk() -> None:
        """Inside a transaction that writes chunks: PostgreSQL's asynchronous commit for it. A crash of the database
        server may lose the last fraction of a second of chunks (never corrupt anything), which are still in the
        worker's files; in exchange a round does not wait for a disk flush. The run's end, written after its last
        chunks with a normal commit, flushes them too (the write-ahead log is written in order)."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")

    # Reading.

    @classmethod
    def task_log(cls, task_pk: int):
        """The task's central log as a ChunkFile, or None when no run shipped any (a local executor's task)."""
        return ChunkFile.open(cls.objects.filter(task_id=task_pk, stream=LogStream.LOG))

    @classmethod
    def run_output(cls, execution_pk: int):
        """A run's shipped output as a ChunkFile, or None when it has none in the database."""
        return ChunkFile.open(cls.objects.filter(execution_id=execution_pk, stream=LogStream.OUTPUT))


class ChunkFile(io.RawIOBase):
    """One stream of chunks read as a read-only, seekable binary file. It spans [floor, size): `floor` is the first
    byte still kept (older chunks were dropped by the cap) and `size` the end when it was opened, so a reader sees
    one consistent end while the worker goes on adding chunks. Reads fetch READ_WINDOW at a time, in the direction
    the reader goes."""

    name = ""  # FileResponse asks

    def __init__(self, chunks, floor: int, size: int):
        super().__init__()
        self.chunks = chunks
        self.floor = floor
        self.size = size
        self.pos = floor
        self._window = (0, b"")  # (start, bytes) of the last fetch
        self._span = CHUNK_MAX  # the next fetch's size: it doubles up to READ_WINDOW, so a short tail fetches little

    @classmethod
    def open(cls, chunks):
        first = chunks.order_by("offset").values_list("offset", flat=True).first()
        if first is None:
            return None
        last = chunks.order_by("-offset").values_list("offset", "size").first()
        return cls(chunks, first, sum(last))

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, pos, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(self.floor, base + pos)
        return self.pos

    def read(self, size=-1):
        if size is None or size < 0:
            size = self.size - self.pos
        data = self.read_at(self.pos, size)
        # From the floor: it moves up when the size cap drops the oldest chunks while this file is read.
        self.pos = max(self.pos, self.floor) + len(data)
        return data

    def readall(self):
        return self.read(-1)

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def read_at(self, pos: int, size: int) -> bytes:
        """Up to `size` bytes from `pos`, or from the floor when `pos` is below it (dropped, as a read() goes on)."""
        pos = max(pos, self.floor)
        end = min(pos + size, self.size)
        if end <= pos:
            return b""
        start, cached = self._window
        if not (start <= pos and end <= start + len(cached)):
            span, self._span = self._span, min(READ_WINDOW, self._span * 2)
            if pos < start and end <= start:  # going backward (a tail): fetch what lies before
                start = max(self.floor, min(pos, end - span))
                first, data = self._fetch(start, end)
            else:
                start = pos
                first, data = self._fetch(pos, min(self.size, pos + max(size, span)))
            if first != start:
                # The size cap dropped the oldest chunks since this file was opened: the log starts later now,
                # and the bytes kept are never passed off as those that were at `pos`.
                self._moved_floor(first)
                return self.read_at(pos, size)
            self._window = (start, data)
            start, cached = self._window
        return cached[pos - start:end - start]

    def _moved_floor(self, first: int | None):
        if first is None:  # nothing of the window is kept: the first chunk that is
            first = self.chunks.order_by("offset").values_list("offset", flat=True).first()
        self.floor = min(self.size, max(self.floor, first if first is not None else self.size))
        self._window = (0, b"")

    def _fetch(self, pos: int, end: int) -> tuple[int | None, bytes]:
        """(where the bytes fetched start, the bytes of [pos, end) still kept); the start is `pos` unless the
        oldest chunks went meanwhile (None: none of them is kept)."""
        # A chunk holds at most CHUNK_MAX bytes, so those that overlap [pos, end) start after pos - CHUNK_MAX:
        # an index range, never a scan of the stream.
        rows = self.chunks.filter(offset__lt=end, offset__gt=pos - CHUNK_MAX).order_by("offset").values_list(
            "offset", "data")
        out, first = bytearray(), None
        for offset, data in rows:  # a window's worth of bytes: no server-side cursor needed
            data = bytes(data)
            low, high = max(pos, offset), min(end, offset + len(data))
            if high > low:
                first = low if first is None else first
                out += data[low - offset:high - offset]
        return first, bytes(out)
