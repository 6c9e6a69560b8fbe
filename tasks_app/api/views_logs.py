"""A task's log: JSON lines (a tail, filters, an offset cursor for a live tail) and the file as a download.
Reading goes through tasks_app.logtail, so a request costs the same for a 1 GB log as for a small one."""
import zoneinfo

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.response import Response

from tasks_app import logtail
from tasks_app.loader import resolve_log_path
from tasks_app.roles import VIEWER

from .common import DOWNLOAD_RENDERERS
from .filters import datetime_param, int_param, text_param
from .schema import query
from .serializers import LogChunkSerializer

MAX_TAIL = 10_000


def task_log_path(task):
    """The task's log file (it may not exist yet). The loader's rule: always inside LOGS_DIR."""
    try:
        return resolve_log_path(task.task_log, task.task_id)
    except ValueError as exc:
        raise exceptions.NotFound(f"The log of task {task.task_id!r} cannot be read: task_log {exc}.") from None


def line_json(line):
    return {
        "offset": line.offset,
        "text": line.text,
        "time": line.time.isoformat() if line.time else None,
        "level": line.level,
        "truncated": line.truncated,
    }


class TaskLogsMixin:
    required_roles = {"logs": VIEWER, "logs_download": VIEWER}

    @extend_schema(
        summary="Lines of the task's log: the last N, or those written after an offset (a live tail)",
        description=(
            "Without `offset`: the last `tail` lines (those passing the filters) that end before `before` "
            "(default: the end of the file). With `offset`: up to `limit` lines starting at that byte offset; "
            "poll again with the returned `next_offset` to get only new lines. Filters: `level` (that level and "
            "above; a traceback goes with its record), `search` (case-insensitive text), `since`/`until` "
            "(ISO 8601; log times are read in the server's zone)."
        ),
        parameters=[
            query("tail", int, f"How many of the last lines (1-{MAX_TAIL}, default 100)", minimum=1, maximum=MAX_TAIL),
            query("offset", int, "Byte offset to read new lines from (a previous next_offset)", minimum=0),
            query("limit", int, f"With offset: at most this many lines (1-{MAX_TAIL}, default 1000)",
                  minimum=1, maximum=MAX_TAIL),
            query("before", int, "Tail lines that end before this byte (a previous start_offset)", minimum=0),
            query("level", str, "Lowest level shown", enum=list(logtail.LEVELS)),
            query("search", str, "Case-insensitive text the line contains", max_length=200),
            query("since", OpenApiTypes.DATETIME, "Records at or after this time"),
            query("until", OpenApiTypes.DATETIME, "Records at or before this time"),
        ],
        responses=LogChunkSerializer,
    )
    @action(detail=True, methods=["get"])
    def logs(self, request, task_id=None):
        task = self.get_object()
        flt = self._log_filter(request)
        tail = int_param(request, "tail", 100, minimum=1, maximum=MAX_TAIL)
        offset = int_param(request, "offset", None, minimum=0, maximum=2**62)
        limit = int_param(request, "limit", 1000, minimum=1, maximum=MAX_TAIL)
        before = int_param(request, "before", None, minimum=0, maximum=2**62)
        path = task_log_path(task)
        body = {"task_id": task.task_id, "file": task.log_path, "exists": path.is_file()}
        if not body["exists"]:
            # A task that has not run yet: nothing to read, and polling from 0 will pick up its first lines.
            chunk = logtail.LogChunk()
        elif offset is not None:
            chunk = logtail.read_from(path, offset, limit=limit, flt=flt)
        else:
            chunk = logtail.tail(path, tail, flt=flt, before=before)
        body.update(
            size=chunk.size,
            lines=[line_json(line) for line in chunk.lines],
            start_offset=chunk.start_offset,
            next_offset=chunk.next_offset,
            more_before=chunk.more_before,
            partial=chunk.partial,
            reset=chunk.reset,
            scan_limited=chunk.scan_limited,
        )
        return Response(body)

    def _log_filter(self, request):
        level = text_param(request, "level", max_length=20)
        if level is not None:
            try:
                level = logtail.parse_level(level)
            except ValueError as exc:
                raise exceptions.ValidationError({"level": [str(exc)]}) from None
        # Task processes inherit the server's TZ, so their log times are local times of TIME_ZONE.
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        return logtail.LogFilter(
            level=level,
            search=text_param(request, "search"),
            since=datetime_param(request, "since", zone),
            until=datetime_param(request, "until", zone),
            tz=zone,
        )

    @extend_schema(
        summary="Download the task's log file",
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="The log file, as an attachment"),
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
        },
    )
    @action(detail=True, methods=["get"], url_path="logs/download", url_name="logs-download",
            renderer_classes=DOWNLOAD_RENDERERS)
    def logs_download(self, request, task_id=None):
        task = self.get_object()
        path = task_log_path(task)
        try:
            handle = open(path, "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise exceptions.NotFound(f"Task {task.task_id!r} has no log yet ({task.log_path}).") from None
        # Streamed in blocks by the server: the file is never read into memory as a whole.
        return FileResponse(handle, as_attachment=True, filename=path.name, content_type="text/plain; charset=utf-8")
