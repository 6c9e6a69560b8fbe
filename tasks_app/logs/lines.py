"""A task's log read for one request, the same way for the API's /logs and the pages' live tail: the last lines or
those written after an offset, with the level, text and time filters of the query (see tasks_app.logs.tail).
Which log: the task's central log when its runs ran on Celery workers (they ship it to the database), else the
local file (open_task_log)."""
import zoneinfo

from django.conf import settings

from tasks_app import params
from tasks_app.definition.paths import task_log_file
from tasks_app.models import ChunkFile, ExecutionLogChunk
from tasks_app.secrets import keys

from . import tail as logtail

MAX_LINES = 10_000
OFFSET_MAX = 2**62


def log_filter(query):
    """?level= &search= &since= &until= as a LogFilter; raises params.ParamError."""
    level = params.text(query, "level", max_length=20)
    if level is not None:
        try:
            level = logtail.parse_level(level)
        except ValueError as exc:
            raise params.ParamError("level", str(exc)) from None
    # Task processes inherit the server's TZ, so their log times are local times of TIME_ZONE.
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return logtail.LogFilter(
        level=level,
        search=params.text(query, "search"),
        since=params.moment(query, "since", zone),
        until=params.moment(query, "until", zone),
        tz=zone,
    )


def read_lines(task, query, default_tail=100):
    """The answer to ?tail= | ?offset= &limit= | ?before= plus the filters, as a JSON-ready dict."""
    flt = log_filter(query)
    # The script writes its log itself: its secrets are masked in every line, before the search looks at it.
    flt.mask = keys.masker_for(task.task_env)
    tail = params.integer(query, "tail", default_tail, minimum=1, maximum=MAX_LINES)
    offset = params.integer(query, "offset", None, minimum=0, maximum=OFFSET_MAX)
    limit = params.integer(query, "limit", 1000, minimum=1, maximum=MAX_LINES)
    before = params.integer(query, "before", None, minimum=0, maximum=OFFSET_MAX)
    log = open_task_log(task)
    exists = log is not None
    if not exists:
        # A task that has not run yet: nothing to read, and polling from 0 will pick up its first lines.
        chunk = logtail.LogChunk()
    elif offset is not None:
        chunk = logtail.read_from(log, offset, limit=limit, flt=flt)
    else:
        chunk = logtail.tail(log, tail, flt=flt, before=before)
    return {
        "task_id": task.task_id,
        "file": task.log_path,
        "exists": exists,
        "size": chunk.size,
        "lines": [line_json(line) for line in chunk.lines],
        "start_offset": chunk.start_offset,
        "next_offset": chunk.next_offset,
        "more_before": chunk.more_before,
        "partial": chunk.partial,
        "reset": chunk.reset,
        "scan_limited": chunk.scan_limited,
        "central": isinstance(log, ChunkFile),
    }


def open_task_log(task):
    """The task's log as an open binary file, or None when there is none yet. With SCHEDULER_EXECUTOR=celery, the
    log its runs' workers shipped to the database (models/logchunk.py), the same on every web node and after a
    worker is gone (a file on a machine holds only the runs that ran there); else the local file, as always.
    Each falls back on the other, so a task keeps a readable log across a change of executor."""
    central_first = settings.SCHEDULER_EXECUTOR == "celery"
    for source in (_central_log, _local_log) if central_first else (_local_log, _central_log):
        log = source(task)
        if log is not None:
            return log
    return None


def _central_log(task):
    return ExecutionLogChunk.task_log(task.pk)


def _local_log(task):
    try:
        return open(task_log_file(task), "rb")
    except (FileNotFoundError, IsADirectoryError):
        return None


def log_size(task) -> int | None:
    """The size in bytes of the task's log as the log page reads it; None when there is none yet."""
    log = open_task_log(task)
    if log is None:
        return None
    with log:
        return log.seek(0, 2) - getattr(log, "floor", 0)


def line_json(line):
    return {
        "offset": line.offset,
        "text": line.text,
        "time": line.time.isoformat() if line.time else None,
        "level": line.level,
        "truncated": line.truncated,
    }
