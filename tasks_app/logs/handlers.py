"""Log handlers of TASK_LOG_HANDLERS: each run's output lines (masked: a secret never reaches a handler) go, as
the run writes them, to every handler named there, e.g. to syslog or to a JSON-lines file a log shipper reads.
The built-in JsonLinesHandler writes logs/tasks.jsonl.

Handlers are called from one thread of their own, fed by a bounded queue: a slow handler never slows a run, a
failing one is logged (once a minute at most) and never breaks a run; lines that find 100,000 others waiting are
dropped and counted in the log."""
import json
import logging
import os
import queue
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("TaskExecutor")

QUEUE_SIZE = 100_000  # lines waiting for the handlers at most; more are dropped (and counted)
REPORT_EVERY = 60.0  # seconds between two log lines about the same failing handler


@dataclass(frozen=True)
class LineRecord:
    task: str  # the task_id
    execution: int
    level: str  # INFO for the run's output; the engine's last line is INFO or ERROR
    time: datetime  # aware UTC: when the engine read the line
    message: str
    source: str = "output"  # "output": the script's stdout and stderr; "engine": the run's end

    def as_dict(self) -> dict:
        data = asdict(self)
        data["time"] = self.time.isoformat().replace("+00:00", "Z")
        return data


class LogHandler:
    """A handler: handle(record) for each line (or handle_many(records) for several at once, which calls
    handle() for each unless a handler does better); close() when the process ends. Built once per process."""

    def handle(self, record: LineRecord) -> None:
        raise NotImplementedError

    def handle_many(self, records) -> None:
        for record in records:
            self.handle(record)

    def close(self) -> None:
        pass


class JsonLinesHandler(LogHandler):
    """One JSON object a line in LOGS_DIR/tasks.jsonl (or TASK_LOG_JSONL): task, execution, level, time, message,
    source. Appended with O_APPEND (lines of several processes never interleave within a line), mode 0600."""

    def __init__(self):
        self.path = Path(getattr(settings, "TASK_LOG_JSONL", "") or Path(settings.LOGS_DIR) / "tasks.jsonl")

    def handle(self, record):
        self.handle_many([record])

    def handle_many(self, records):
        data = "".join(json.dumps(record.as_dict(), ensure_ascii=False) + "\n" for record in records).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened for each batch: a rotated or removed file is simply made again.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)


@lru_cache(maxsize=8)
def _load(paths: tuple) -> tuple:
    made = []
    for path in paths:
        made.append((path, import_string(path)()))  # a wrong path stops the process, naming it
    return tuple(made)


def handlers() -> tuple:
    """((dotted path, handler), ...) of settings.TASK_LOG_HANDLERS."""
    return _load(tuple(getattr(settings, "TASK_LOG_HANDLERS", ()) or ()))


def enabled() -> bool:
    return bool(getattr(settings, "TASK_LOG_HANDLERS", ()))


class _Dispatcher:
    """One thread calling the handlers with batches of lines (all that one read of a run's output found), so a
    chatty run costs a queue operation per read, not per line."""

    def __init__(self):
        self.queue = queue.Queue()
        self.thread = None
        self.lock = threading.Lock()
        self.pending = 0  # lines queued and not handled yet
        self.dropped = 0
        self.reported = {}

    def publish(self, records) -> None:
        records = list(records)
        if not records:
            return
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._work, name="log-handlers", daemon=True)
                self.thread.start()
            if self.pending + len(records) > QUEUE_SIZE:
                self.dropped += len(records)
                dropped = self.dropped
            else:
                self.pending += len(records)
                dropped = None
        if dropped is None:
            self.queue.put(records)
        else:
            now = time.monotonic()
            if now - self.reported.get("(queue)", -REPORT_EVERY) >= REPORT_EVERY:
                self.reported["(queue)"] = now
                log.warning("Log handlers are behind: %d line(s) dropped so far", dropped)

    def _work(self):
        while True:
            batch = self.queue.get()
            try:
                for path, handler in handlers():
                    try:
                        handler.handle_many(batch)
                    except Exception:  # the run goes on whatever a handler does
                        now = time.monotonic()
                        if now - self.reported.get(path, -REPORT_EVERY) >= REPORT_EVERY:
                            self.reported[path] = now
                            log.exception("Log handler %s failed (the run goes on; said once a minute)", path)
            except Exception:  # loading the handlers failed: say so, keep the thread
                log.exception("TASK_LOG_HANDLERS could not be loaded")
            finally:
                with self.lock:
                    self.pending -= len(batch)
                self.queue.task_done()

    def drain(self, timeout: float) -> bool:
        """Wait until every published line was handled (tests, shutdown); False after `timeout` s."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True


dispatcher = _Dispatcher()


class OutputFeed:
    """Reads a run's output file as it grows and publishes each whole line (masked by `masker` too, for a
    secret the file might hold); finish() publishes the last, unterminated line."""

    def __init__(self, fd, task_id, execution_id, masker=None):
        self.fd, self.task_id, self.execution_id, self.masker = fd, task_id, execution_id, masker
        self.offset, self.partial = 0, b""
        self.on = enabled()

    def poll(self) -> None:
        if not self.on:
            return
        size = os.fstat(self.fd).st_size
        if size < self.offset:  # the file was cut to its tail (output limit): go on from its new start
            self.offset, self.partial = 0, b""
        if size == self.offset:
            return
        data = self.partial + os.pread(self.fd, size - self.offset, self.offset)
        self.offset = size
        *lines, self.partial = data.split(b"\n")
        self._publish(lines)

    def finish(self) -> None:
        """The rest of the output (its last line may have no newline); call before the file is closed."""
        if not self.on:
            return
        self.poll()
        lines = [self.partial] if self.partial else []
        self.partial = b""
        self._publish(lines)

    def ended(self, status: str, message: str) -> None:
        """The engine's line about the run's end: INFO for a success, ERROR otherwise."""
        if self.on:
            level = "INFO" if status == "success" else "ERROR"
            dispatcher.publish([self._record(message, level, "engine")])

    def _publish(self, lines):
        if lines:
            now = datetime.now(timezone.utc)  # one read, one time: the lines came together
            dispatcher.publish([self._record(line.decode("utf-8", "replace").rstrip("\r"), "INFO", "output", now)
                                for line in lines])

    def _record(self, text, level, source, now=None):
        if self.masker:
            text = self.masker.text(text)
        return LineRecord(self.task_id, self.execution_id, level, now or datetime.now(timezone.utc), text, source)
