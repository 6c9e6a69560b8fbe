"""Pages about runs: a task's history, one execution with its captured output, and the task log
(a page plus the JSON its live tail polls, and the download)."""
import zoneinfo
from datetime import datetime

from django.conf import settings
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from tasks_app import logtail
from tasks_app.models import ExecutionStatus, TaskExecution

from . import queries
from .access import RoleRequiredMixin, TaskMixin
from .logfiles import task_log_file

PAGE_SIZE = 50
# The execution page shows the end of the captured output; the whole file is at most SCHEDULER_OUTPUT_LIMIT.
OUTPUT_TAIL_LINES = 2000
TAIL_MAX = 5000


class ExecutionListView(RoleRequiredMixin, TaskMixin, TemplateView):
    template_name = "tasks/executions.html"

    def get_context_data(self, **kwargs):
        task = self.get_task()
        params = self.request.GET
        executions, errors = queries.filter_executions(
            task.executions.order_by("-execution_id"),
            status=params.get("status", ""), since=params.get("since", ""), until=params.get("until", ""),
        )
        page = queries.CheapPage(executions, params.get("page"), PAGE_SIZE)
        return super().get_context_data(
            task=task, page=page, executions=page.object_list, errors=errors,
            statuses=ExecutionStatus.choices,
            status=params.get("status", ""), since=params.get("since", ""), until=params.get("until", ""),
            filtering=any(params.get(k) for k in ("status", "since", "until")),
            **kwargs,
        )


class ExecutionDetailView(RoleRequiredMixin, TaskMixin, TemplateView):
    template_name = "tasks/execution.html"

    def get_template_names(self):
        # While a run is active the page refreshes its status and output part by itself.
        if self.request.headers.get("X-Fragment") == "execution":
            return ["tasks/_execution_body.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        task = self.get_task()
        execution = get_object_or_404(TaskExecution, task=task, execution_id=self.kwargs["execution_id"])
        output, output_lines_cut = read_output_tail(execution)
        return super().get_context_data(
            task=task, execution=execution, output=output, output_lines_cut=output_lines_cut, **kwargs
        )


def read_output_tail(execution):
    """(text, whether earlier lines were left out) of the run's captured stdout and stderr."""
    try:
        from tasks_app.engine.runner import read_output
    except ImportError:  # the engine is not installed yet: read the file ourselves
        read_output = None
    if read_output is not None:
        text = read_output(execution, tail_lines=OUTPUT_TAIL_LINES + 1) or ""
    else:
        try:
            text = execution.output_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
    lines = text.splitlines()
    if len(lines) > OUTPUT_TAIL_LINES:
        return "\n".join(lines[-OUTPUT_TAIL_LINES:]), True
    return text, False


class LogPageView(RoleRequiredMixin, TaskMixin, TemplateView):
    template_name = "tasks/logs.html"

    def get_context_data(self, **kwargs):
        task = self.get_task()
        path = task_log_file(task)
        size = path.stat().st_size if path.is_file() else None
        return super().get_context_data(
            task=task, log_size=size, levels=list(logtail.LEVELS), zone=settings.TIME_ZONE, **kwargs
        )


class LogLinesView(RoleRequiredMixin, TaskMixin, View):
    """JSON for the live tail. Without `offset`: the last `tail` lines (before byte `before` if given).
    With `offset`: the lines written since. Filters: level, search, since, until (local date-times)."""

    def get(self, request, *args, **kwargs):
        task = self.get_task()
        params = request.GET
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        errors = {}
        count = _int(params.get("tail", "500"), "tail", errors, minimum=1, maximum=TAIL_MAX)
        offset = _int(params.get("offset"), "offset", errors, minimum=0) if params.get("offset") else None
        before = _int(params.get("before"), "before", errors, minimum=0) if params.get("before") else None
        since = _moment(params.get("since", ""), "since", errors, zone)
        until = _moment(params.get("until", ""), "until", errors, zone)
        level = params.get("level", "").strip() or None
        if level:
            try:
                level = logtail.parse_level(level)
            except ValueError:
                errors["level"] = _("Unknown level %(value)r.") % {"value": level}
        if errors:
            return JsonResponse({"errors": errors}, status=400)
        flt = logtail.LogFilter(level=level, search=params.get("search") or None, since=since, until=until, tz=zone)
        path = task_log_file(task)
        if not path.is_file():
            return JsonResponse({"exists": False, "lines": [], "next_offset": 0, "start_offset": 0,
                                 "more_before": False, "size": 0, "reset": False})
        if offset is not None:
            chunk = logtail.read_from(path, offset, flt=flt)
        else:
            chunk = logtail.tail(path, count, flt=flt, before=before)
        return JsonResponse({
            "exists": True,
            "lines": [{"offset": ln.offset, "text": ln.text, "level": ln.level} for ln in chunk.lines],
            "next_offset": chunk.next_offset,
            "start_offset": chunk.start_offset,
            "more_before": chunk.more_before,
            "size": chunk.size,
            "reset": chunk.reset,
        })


class LogDownloadView(RoleRequiredMixin, TaskMixin, View):
    def get(self, request, *args, **kwargs):
        task = self.get_task()
        path = task_log_file(task)
        if not path.is_file():
            raise Http404(_("Task %(id)s has no log yet.") % {"id": task.task_id})
        return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name, content_type="text/plain")


def _int(raw, name, errors, minimum=None, maximum=None):
    try:
        value = int(raw)
    except (TypeError, ValueError):
        errors[name] = _("%(name)s must be a whole number, not %(value)r.") % {"name": name, "value": raw}
        return None
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        errors[name] = _("%(name)s must be between %(low)s and %(high)s, not %(value)s.") % {
            "name": name, "low": minimum, "high": maximum if maximum is not None else "∞", "value": value}
        return None
    return value


def _moment(raw, name, errors, zone):
    """A datetime-local value (yyyy-mm-ddThh:mm[:ss]) in the configured zone."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = _("%(value)r is not a date and time.") % {"value": raw}
        return None
    return value if value.tzinfo else value.replace(tzinfo=zone)
