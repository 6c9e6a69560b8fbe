"""Pages about runs: a task's history, one execution with its captured output, and the task log
(a page plus the JSON its live tail polls, and the download)."""
from django.conf import settings
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from tasks_app import params
from tasks_app.definition.overrides import shown_overrides
from tasks_app.definition.paths import task_log_file
from tasks_app.logs import lines as log_lines
from tasks_app.logs import tail as logtail
from tasks_app.secrets import keys
from tasks_app.secrets.masking import masked_body
from tasks_app.models import ExecutionStatus, TaskExecution
from tasks_app.services.backfills import MAX_CONCURRENCY

from . import queries, status
from .access import RoleRequiredMixin, TaskMixin

PAGE_SIZE = 50
BACKFILLS_SHOWN = 10
# The execution page shows the end of the captured output; the whole file is at most SCHEDULER_OUTPUT_LIMIT.
OUTPUT_TAIL_LINES = 2000
# What the log page's script asks for first; earlier lines come on demand.
LOG_TAIL = 500


class ExecutionListView(RoleRequiredMixin, TaskMixin, TemplateView):
    template_name = "tasks/executions.html"

    def get_context_data(self, **kwargs):
        task = self.get_task()
        query, errors = self.request.GET, params.Errors()
        executions = queries.filter_executions(task.executions.order_by("-execution_id"), query, errors)
        backfill = errors.read(params.integer, query, "backfill", None, minimum=1, maximum=2**62)
        if backfill:
            executions = executions.filter(backfill_id=backfill)
        page = queries.CheapPage(executions, query.get("page"), PAGE_SIZE)
        # Each backfill is a group: its range, state and runs by status (the latest few; older ones in the API).
        backfills = [(b, b.counts()) for b in task.backfills.order_by("-id")[:BACKFILLS_SHOWN]]
        return super().get_context_data(
            task=task, page=page, executions=page.object_list, errors=errors,
            statuses=status.choices(ExecutionStatus.values),
            status=query.get("status", ""), since=query.get("since", ""), until=query.get("until", ""),
            backfill=backfill, backfills=backfills, max_concurrency=MAX_CONCURRENCY,
            filtering=any(query.get(k) for k in ("status", "since", "until", "backfill")),
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
        output, output_lines_cut = execution.output_tail(lines=OUTPUT_TAIL_LINES)
        return super().get_context_data(
            task=task, execution=execution, output=output, output_lines_cut=output_lines_cut,
            notices=list(execution.notices.order_by("id")), overrides=shown_overrides(execution.env_overrides),
            **kwargs
        )


class LogPageView(RoleRequiredMixin, TaskMixin, TemplateView):
    template_name = "tasks/logs.html"

    def get_context_data(self, **kwargs):
        task = self.get_task()
        size = log_lines.log_size(task)
        return super().get_context_data(
            task=task, log_size=size, levels=list(logtail.LEVELS), zone=settings.TIME_ZONE, **kwargs
        )


class LogLinesView(RoleRequiredMixin, TaskMixin, View):
    """JSON for the live tail, as the API's /logs answers it (see tasks_app.logs.lines); a bad parameter is a
    400 with {"errors": {parameter: message}}."""

    def get(self, request, *args, **kwargs):
        try:
            return JsonResponse(log_lines.read_lines(self.get_task(), request.GET, default_tail=LOG_TAIL))
        except params.ParamError as exc:
            return JsonResponse({"errors": {exc.name: exc.message}}, status=400)


class LogDownloadView(RoleRequiredMixin, TaskMixin, View):
    def get(self, request, *args, **kwargs):
        task = self.get_task()
        log = log_lines.open_task_log(task)
        if log is None:
            raise Http404(_("Task %(id)s has no log yet.") % {"id": task.task_id})
        # The script writes its log itself: secrets are masked on the way out.
        return FileResponse(masked_body(log, keys.masker_for(task.task_env)), as_attachment=True,
                            filename=task_log_file(task).name, content_type="text/plain; charset=utf-8")
