"""A task's log: JSON lines (a tail, filters, an offset cursor for a live tail) and the file as a download.
Reading goes through tasks_app.logs.tail, so a request costs the same for a 1 GB log as for a small one."""
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.response import Response

from tasks_app.definition.paths import task_log_file
from tasks_app.logs import lines as log_lines
from tasks_app.logs import tail as logtail
from tasks_app.roles import VIEWER
from tasks_app.secrets import keys
from tasks_app.secrets.masking import masked_body

from .common import DOWNLOAD_RENDERERS
from .schema import query
from .serializers import LogChunkSerializer

MAX_TAIL = log_lines.MAX_LINES


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
        return Response(log_lines.read_lines(self.get_object(), request.query_params))

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
        path = task_log_file(task)
        handle = log_lines.open_task_log(task)
        if handle is None:
            raise exceptions.NotFound(f"Task {task.task_id!r} has no log yet ({task.log_path}).")
        # Streamed in blocks: the file is never read into memory as a whole; secrets are masked on the way.
        return FileResponse(masked_body(handle, keys.masker_for(task.task_env)), as_attachment=True,
                            filename=path.name, content_type="text/plain; charset=utf-8")
