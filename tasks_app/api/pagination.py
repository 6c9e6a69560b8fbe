"""How a task's execution history is paged: by an opaque cursor (keyset) on -execution_id, or on -start_time when
filtered by time, so every page costs what the first one does; bad paging parameters are a 400 naming them."""
import re
from datetime import datetime, timezone as dt_timezone

from django.utils import dateparse
from django.utils.translation import gettext as _
from rest_framework import exceptions, pagination

from tasks_app import params

from .filters import TimeWindow

# An execution_id as the cursor carries it: a BigAutoField, never negative, at most 18 digits (as in the URLs).
POSITION = re.compile(r"[0-9]{1,18}")


class ExecutionCursorPagination(pagination.CursorPagination):
    """Keyset pagination, newest first: `?cursor=` from an answer's `next` or `previous` link, `?page_size=` 1-200.

    Why a cursor rather than page numbers: a task that runs every minute has 100,000 executions in ten weeks.
    Page N costs a COUNT(*) over all of them plus an OFFSET that reads every skipped row (20.9 ms for the deepest
    page on SQLite); a cursor page is `execution_id < last seen` read from a (task, execution_id) index: 51 rows
    at any depth (0.1 ms of SQL), with no count. A history also grows at its head while it is read: with page
    numbers each new run shifts every page by one (a client walking them sees a row twice); a cursor is a fixed
    position. Random access is by time, not by page: `since`/`until` jump to a date, and the links keep them;
    such a window is paged on start_time, which the (task, start_time) index serves (on execution_id, SQLite
    walked every run newer than `until` first: 40 ms for a date near the oldest of 100,000).
    `?page=` is refused with a 400 rather than ignored: an old client that counts pages would otherwise receive
    the first page forever.

    The task list keeps DRF's page numbers (settings): tasks number thousands, not millions; with 10,000 the COUNT
    and the OFFSET of the last page cost about 2.5 ms (page 200 in 10 ms, page 2 in 7.4 ms), and a total and pages
    to jump to are worth that in a list of configuration sorted by task_id."""

    ordering = "-execution_id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    cursor_query_description = "Where the page starts: copy it from the next or previous link of an answer"
    page_size_query_description = "Executions per page (1-200, default 50)"

    # Filtered by time, every run has a start time (only queued ones lack it), so the cursor can be one; without
    # a time filter queued runs come first, by execution_id.
    time_ordering = ("-start_time", "-execution_id")
    window = TimeWindow()

    def paginate_window(self, queryset, request, window, view=None):
        """paginate_queryset for a history with a TimeWindow (filters.filter_executions)."""
        self.window = window
        return self.paginate_queryset(queryset, request, view)

    def get_ordering(self, request, queryset, view):
        return self.time_ordering if any(self.window) else (self.ordering,)

    def paginate_queryset(self, queryset, request, view=None):
        if "page" in request.query_params:
            raise params.ParamError("page", _(
                "page numbers are not used for executions: follow the next and previous links of an answer "
                "(their cursor), or use since and until to go to a date."))
        if any(self.window):
            queryset = self._within_window(queryset, self.decode_cursor(request))
        return super().paginate_queryset(queryset, request, view)

    def _within_window(self, queryset, cursor):
        """The window's bounds, but not one the cursor's position already implies: SQLite ranges an index on one
        bound a side, and when it took `until` rather than the position, each page read every run between them."""
        since, until = self.window
        position = datetime.fromisoformat(cursor.position) if cursor and cursor.position else None
        if until and not (position and not cursor.reverse and position <= until):
            queryset = queryset.filter(start_time__lte=until)
        if since and not (position and cursor.reverse and position >= since):
            queryset = queryset.filter(start_time__gte=since)
        return queryset

    def get_page_size(self, request):
        return params.integer(request.query_params, self.page_size_query_param, self.page_size,
                              minimum=1, maximum=self.max_page_size)

    def decode_cursor(self, request):
        raw = params.text(request.query_params, self.cursor_query_param)  # NUL and length checks
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            cursor = None
        else:
            if cursor is None or cursor.position is None:
                return cursor
            position = self._checked_position(cursor.position)
            if position is not None:
                return cursor._replace(position=position)
        # A cursor this API did not give out (an edited or truncated link, or one of another window): its position
        # would reach the database.
        raise params.ParamError(self.cursor_query_param, _(
            "cursor %(value)s is not one this API gave out for this query: copy it from the next or previous link "
            "of an answer.") % {"value": repr((raw or "")[:40])})

    def _checked_position(self, position):
        """The position in the form the database is given (an execution_id, or a start time in UTC), or None."""
        if not any(self.window):
            return position if POSITION.fullmatch(position) else None
        try:
            moment = dateparse.parse_datetime(position)
            moment = moment.astimezone(dt_timezone.utc) if moment and moment.tzinfo else None
        except (ValueError, OverflowError):  # e.g. month 13, or year 1 east of UTC
            return None
        return moment.isoformat() if moment and params.FIRST_YEAR <= moment.year <= params.LAST_YEAR else None

    def get_paginated_response_schema(self, schema):
        # DRF's examples are another API's (with a stray quote); both links are always in the answer, maybe null.
        answer = super().get_paginated_response_schema(schema)
        answer["required"] = ["next", "previous", "results"]
        example = "http://scheduler.example.org/api/tasks/test-task/executions?cursor="
        answer["properties"]["next"]["example"] = example + "cD00ODY%3D"
        answer["properties"]["previous"]["example"] = example + "cj0xJnA9NDg3"
        return answer

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters
