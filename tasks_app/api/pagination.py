"""How a task's execution history is paged: by an opaque cursor on -execution_id (keyset), so every page costs
what the first one does; bad paging parameters are a 400 naming the parameter, like every other query parameter."""
import re

from django.utils.translation import gettext as _
from rest_framework import exceptions, pagination

from tasks_app import params

# An execution_id as the cursor carries it: a BigAutoField, never negative, at most 18 digits (as in the URLs).
POSITION = re.compile(r"[0-9]{1,18}")


class ExecutionCursorPagination(pagination.CursorPagination):
    """Keyset pagination, newest first: `?cursor=` from an answer's `next` or `previous` link, `?page_size=` 1-200.

    Why a cursor rather than page numbers: a task that runs every minute has 100,000 executions in ten weeks.
    Page N costs a COUNT(*) over all of them plus an OFFSET that reads every skipped row (20.9 ms for the deepest
    page on SQLite); a cursor page is `execution_id < last seen` read from a (task, execution_id) index: 51 rows
    at any depth (0.1 ms of SQL), with no count. A history also grows at its head while it is read: with page
    numbers each new run shifts every page by one (a client walking them sees a row twice); a cursor is a fixed
    position. Random access is by time, not by page: `since`/`until` jump to a date, and the links keep them.
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

    def paginate_queryset(self, queryset, request, view=None):
        if "page" in request.query_params:
            raise params.ParamError("page", _(
                "page numbers are not used for executions: follow the next and previous links of an answer "
                "(their cursor), or use since and until to go to a date."))
        return super().paginate_queryset(queryset, request, view)

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
            if cursor is None or cursor.position is None or POSITION.fullmatch(cursor.position):
                return cursor
        # A cursor this API did not give out (an edited or truncated link): its position would reach the database.
        raise params.ParamError(self.cursor_query_param, _(
            "cursor %(value)s is not one this API gave out: copy it from the next or previous link of an answer.")
            % {"value": repr((raw or "")[:40])})

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
