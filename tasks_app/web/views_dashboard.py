"""/dashboard, the landing page after login: the fleet's counts and success rates, the timeline of the last and
next 24 hours (server-drawn SVG: a bar per run, a mark per slot, hover shows the run, click opens it), the failing,
slowest and flakiest tasks and the open incidents, the business calendars in use that lack next year's data;
?tag= narrows all of it to one tag's tasks."""
from django.core.paginator import Paginator
from django.utils import timezone
from django.views.generic import TemplateView

from tasks_app import params
from tasks_app.checks import calendars_missing_data
from tasks_app.definition.tags import tag_param
from tasks_app.insights import figures as fleet
from tasks_app.insights import timeline
from tasks_app.models import ExecutionStatus, Task

from . import queries, status, timeline_svg
from .access import RoleRequiredMixin

ROWS_PER_PAGE = 25  # timeline rows: past that the page is a long scroll nobody reads (and heavy)


class DashboardView(RoleRequiredMixin, TemplateView):
    template_name = "tasks/dashboard.html"

    def get_context_data(self, **kwargs):
        errors, now = params.Errors(), timezone.now()
        tag = errors.read(tag_param, self.request.GET, "tag")
        figures = fleet.fleet_figures(now, tag)
        tasks = Task.objects.tagged(tag).only("task_id", "task_name", "task_enabled", "task_schedule",
                                              "task_timezone", "task_calendar").order_by("task_id")
        page = Paginator(tasks, ROWS_PER_PAGE).get_page(self.request.GET.get("page"))
        line = timeline.build(list(page.object_list), now)
        return super().get_context_data(
            figures=figures, line=line, svg=timeline_svg.render(line), page=page, tag=tag or "", errors=errors,
            cloud=queries.tag_cloud(), calendar_warnings=calendars_missing_data(),
            runs_24h=[(s, status.word(s), figures.runs_24h.get(s, 0)) for s in ExecutionStatus.finished()
                      + [ExecutionStatus.RUNNING] if figures.runs_24h.get(s)],
            legend=[(s, status.word(s), status.colour(s)) for s in (
                "success", "failed", "timeout", "lost", "stopped", "skipped", "running")],
            **kwargs)
