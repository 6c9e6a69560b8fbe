"""Reading task logs without loading them: the last lines by seeking back from the end in blocks,
new lines from a byte offset (a live tail), with level, text and time filters. Memory and reads are
bounded by the request, not by the size of the file, so a 1 GB log answers as fast as a small one.
A log is a path, or an open binary file (models.ChunkFile: a task's central log, whose first kept byte is
its `floor`)."""
import contextlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone

BLOCK = 64 * 1024
# A longer line is cut; its head (with the timestamp) is kept.
MAX_LINE = 16 * 1024
# With filters that match little, a request stops after examining this many bytes and says so.
SCAN_LIMIT = 32 * 1024 * 1024
# One poll reads at most this much new data; the client continues from next_offset.
FORWARD_LIMIT = 1024 * 1024
# Continuation lines (tracebacks) kept while looking for the line that starts their record.
MAX_RECORD_LINES = 5000

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}
TIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:[,.](\d{1,6}))?")
# Both sys.log's `time - LEVEL - name - msg` and test_task.py's `time - name - LEVEL - msg`.
LEVEL_RE = re.compile(r" - (DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL) - ")
HEADER_B = re.compile(TIME_RE.pattern.encode())
LEVEL_B = re.compile(LEVEL_RE.pattern.encode())


def parse_level(name):
    """'warning', 'WARN'... -> 'WARNING'; ValueError for an unknown level."""
    upper = str(name).strip().upper()
    upper = LEVEL_ALIASES.get(upper, upper)
    if upper not in LEVELS:
        raise ValueError(f"unknown level {name!r}; use one of {', '.join(LEVELS)}")
    return upper


@dataclass
class LogFilter:
    """level: the lowest level shown; search: case-insensitive text; since/until: aware datetimes.
    tz: the zone the log's own (naive) timestamps are written in."""

    level: str | None = None
    search: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    tz: object = dt_timezone.utc
    mask: object = None  # a secrets.masking.Masker: lines are masked before the search looks at them

    def __post_init__(self):
        self.min_level = LEVELS[parse_level(self.level)] if self.level else None
        self.needle = self.search.lower() if self.search else None
        # bytes.lower() only folds ASCII: exact when the search's other characters have no case (e.g. Chinese).
        uncased = self.needle is not None and all(c.isascii() or c.lower() == c.upper() for c in self.needle)
        self.needle_bytes = self.needle.encode() if uncased else None

    @property
    def by_record(self):
        """Level and time belong to a record, so its continuation lines are judged with it."""
        return self.min_level is not None or self.since is not None or self.until is not None

    @property
    def active(self):
        return self.by_record or self.needle is not None

    def record_ok(self, level, when):
        if self.min_level is not None and (level is None or LEVELS[level] < self.min_level):
            return False
        if (self.since or self.until) and when is None:
            return False
        if self.since and when < self.since:
            return False
        if self.until and when > self.until:
            return False
        return True

    def text_ok(self, text):
        return self.needle is None or self.needle in text.lower()

    def raw_may_match(self, raw):
        """A cheap test on bytes before decoding: False only when the line cannot contain the search text."""
        if self.needle_bytes is None or (self.mask and b"*" in self.needle_bytes):
            return True  # masking may make *** where the bytes had none
        return self.needle_bytes in raw.lower()

    def level_may_match(self, raw):
        """False when a record line's level is known from its bytes to be below the filter's (and no time
        filter needs the line parsed)."""
        if self.min_level is None or self.since is not None:
            return True
        m = LEVEL_B.search(raw, 0, 200)
        name = LEVEL_ALIASES.get(m.group(1).decode(), m.group(1).decode()) if m else None
        return name is not None and LEVELS[name] >= self.min_level


@dataclass
class LogLine:
    offset: int
    text: str
    time: datetime | None = None
    level: str | None = None
    truncated: bool = False

    @property
    def is_header(self):
        return self.time is not None


@dataclass
class LogChunk:
    lines: list = field(default_factory=list)
    start_offset: int = 0  # the earliest byte examined; `floor` means the start of the log was reached
    next_offset: int = 0  # poll from here for lines written after this answer
    size: int = 0
    partial: bool = False  # the last line has no newline yet; it comes again, whole, from next_offset
    reset: bool = False  # the offset asked for was past the end (file truncated or rotated): read from 0
    bytes_read: int = 0
    scan_limited: bool = False  # stopped at SCAN_LIMIT before finding enough lines
    floor: int = 0  # the first byte the log still holds (a central log drops its oldest chunks)

    @property
    def more_before(self):
        return self.start_offset > self.floor


class _Reader:
    """An open log plus a count of bytes read, so tests can show that a tail does not read the file."""

    def __init__(self, f, tz, mask=None):
        self.f = f
        self.tz = tz
        self.mask = mask
        self.bytes_read = 0
        self.floor = getattr(f, "floor", 0)

    def read_at(self, pos, size):
        self.f.seek(pos)
        data = self.f.read(size)
        self.bytes_read += len(data)
        return data

    def make_line(self, offset, raw, total_len=None):
        truncated = (total_len or len(raw)) > MAX_LINE
        if truncated:
            raw = raw[:MAX_LINE]
        whole = raw.endswith(b"\n") and not truncated
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if self.mask:
            # A line cut short or still being written may end in the first part of a secret: masked too.
            text = self.mask.text(text, cut=not whole)
        return LogLine(offset, text, *parse_header(text, self.tz), truncated=truncated)

    def lines_backward(self, end, budget):
        """(offset, raw bytes, full length, ends_with_newline) of the lines from `end` back to the start, newest
        first, until `budget` bytes are read. Only the newest line can lack its newline (one being written).
        Lines stay bytes here: a filtered scan decodes only the lines that may match."""
        if end <= self.floor:
            return
        complete = self.read_at(end - 1, 1) == b"\n"
        pos, carry, carry_len = end, b"", 0  # carry: the known tail of a line whose start is further back
        while pos > self.floor:
            if self.bytes_read >= budget:
                return
            size = min(BLOCK, pos - self.floor)
            pos -= size
            data = self.read_at(pos, size)
            i = data.rfind(b"\n")
            if i < 0:
                carry_len += len(data)
                carry = data + carry if carry_len <= MAX_LINE else b""
                continue
            start = pos + i + 1
            if start < end:  # else: the file ends with a newline and nothing follows it
                yield *self._finish(start, data[i + 1:] + carry, carry_len + len(data) - i - 1), complete
                complete = True
            while (j := data.rfind(b"\n", 0, i)) >= 0:
                yield *self._finish(pos + j + 1, data[j + 1:i + 1], i - j), complete
                complete = True
                i = j
            carry, carry_len = data[:i + 1], i + 1
        if carry_len:
            yield *self._finish(self.floor, carry, carry_len), complete

    def _finish(self, offset, raw, total_len):
        if total_len > MAX_LINE and len(raw) < min(total_len, MAX_LINE):
            # Only the tail of a very long line was kept while seeking its start: read its head.
            raw = self.read_at(offset, MAX_LINE)
        return offset, raw, total_len


def parse_header(text, tz):
    """(time, level) of a line that starts a log record, else (None, None)."""
    m = TIME_RE.match(text)
    if not m:
        return None, None
    try:
        frac = (m.group(3) or "0").ljust(6, "0")
        naive = datetime.fromisoformat(f"{m.group(1)} {m.group(2)}.{frac}")
    except ValueError:
        return None, None
    lm = LEVEL_RE.search(text, 0, 200)
    level = LEVEL_ALIASES.get(lm.group(1), lm.group(1)) if lm else None
    return naive.replace(tzinfo=tz), level


def tail(path, count=100, flt=None, before=None, scan_limit=SCAN_LIMIT):
    """The last `count` lines (passing `flt`) that end at or before byte `before` (default: the end)."""
    flt = flt or LogFilter()
    with _opened(path) as f:
        f.seek(0, 2)
        size = f.tell()
        reader = _Reader(f, flt.tz, flt.mask)
        end = size if before is None else max(reader.floor, min(before, size))
        chunk = LogChunk(size=size, start_offset=end, next_offset=end, floor=reader.floor)
        found, pending = [], []  # newest first
        for offset, raw, total, complete in reader.lines_backward(end, scan_limit):
            chunk.start_offset = offset
            if not complete:
                chunk.partial = True
                chunk.next_offset = offset
            if not flt.by_record:
                if flt.raw_may_match(raw):
                    line = reader.make_line(offset, raw, total)
                    if flt.text_ok(line.text):
                        found.append(line)
            elif not HEADER_B.match(raw):
                pending.append((offset, raw, total))
                if len(pending) > MAX_RECORD_LINES:
                    pending.clear()  # an orphan block with no time or level: no filter of ours can match it
                continue
            elif not flt.level_may_match(raw):
                pending.clear()  # the record's level is below the filter's (decided on bytes, without parsing)
            else:
                line = reader.make_line(offset, raw, total)
                if flt.record_ok(line.level, line.time):
                    for member in [reader.make_line(*p) for p in pending] + [line]:
                        member.time, member.level = line.time, line.level
                        if flt.text_ok(member.text):
                            found.append(member)
                pending.clear()
                if flt.since and line.time < flt.since:
                    break  # logs are written in time order: nothing older can match
            if len(found) >= count:
                break
        else:
            chunk.scan_limited = chunk.start_offset > reader.floor
        found = found[:count]
        if found and len(found) >= count:
            chunk.start_offset = found[-1].offset
        chunk.lines = list(reversed(found))
        # Say "partial" only when the unfinished line is among the lines returned.
        chunk.partial = chunk.partial and bool(chunk.lines) and chunk.lines[-1].offset == chunk.next_offset
        chunk.bytes_read = reader.bytes_read
        return chunk


def read_from(path, offset, limit=1000, flt=None, max_bytes=FORWARD_LIMIT):
    """Lines (passing `flt`) that start at or after byte `offset`: what a live tail polls for."""
    flt = flt or LogFilter()
    with _opened(path) as f:
        f.seek(0, 2)
        size = f.tell()
        reader = _Reader(f, flt.tz, flt.mask)
        chunk = LogChunk(size=size, floor=reader.floor)
        if offset > size:
            chunk.reset, offset = True, reader.floor
        # Lines dropped from a central log since the last poll are gone: go on from the first kept byte.
        offset = max(offset, reader.floor)
        chunk.start_offset = chunk.next_offset = offset
        context = _record_before(reader, offset) if flt.by_record else (None, None)
        data = reader.read_at(offset, min(max_bytes, size - offset))
        pos = 0
        while pos < len(data) and len(chunk.lines) < limit:
            nl = data.find(b"\n", pos)
            if nl < 0:
                at_eof = offset + len(data) == size
                if not at_eof and pos > 0:
                    break  # cut by max_bytes: the rest of this line comes with the next poll
                line = reader.make_line(offset + pos, data[pos:])
                if at_eof:
                    chunk.partial = True
                    _keep(chunk, line, flt, context)
                    break  # next_offset stays at the start of the unfinished line
                end = len(data)  # one line longer than max_bytes: hand it over in pieces
            else:
                line = reader.make_line(offset + pos, data[pos:nl + 1])
                end = nl + 1
            context = _keep(chunk, line, flt, context)
            pos = end
            chunk.next_offset = offset + pos
        chunk.partial = chunk.partial and bool(chunk.lines) and chunk.lines[-1].offset == chunk.next_offset
        chunk.bytes_read = reader.bytes_read
        return chunk


def _opened(path):
    """An open log: a path is opened (and closed after), an open file is used as it is (and closed after)."""
    if hasattr(path, "read"):
        return contextlib.closing(path)
    return open(path, "rb")


def _keep(chunk, line, flt, context):
    """Adds `line` if it passes; returns the (level, time) record context for the lines after it."""
    if line.is_header:
        context = (line.level, line.time)
    elif flt.by_record:
        line.level, line.time = context
    if (not flt.by_record or flt.record_ok(*context)) and flt.text_ok(line.text):
        chunk.lines.append(line)
    return context


def _record_before(reader, offset, budget=256 * 1024):
    """The (level, time) of the record that the line at `offset` continues, if it is a continuation."""
    limit = reader.bytes_read + budget
    for line_offset, raw, total, _ in reader.lines_backward(offset, limit):
        if HEADER_B.match(raw):
            line = reader.make_line(line_offset, raw, total)
            return line.level, line.time
    return None, None
