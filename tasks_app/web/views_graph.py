"""The dependency graph page (/graph): every role sees the tasks and their dependencies, coloured by each task's
latest result, with why a task waits; a box opens its task. Filtering by tag waits for task tags (issue 14's
other half)."""
from django.views.generic import TemplateView

from . import graph
from . import status as statuses
from .access import RoleRequiredMixin


class GraphView(RoleRequiredMixin, TemplateView):
    template_name = "tasks/graph.html"

    def get_context_data(self, **kwargs):
        show_all = self.request.GET.get("all") == "1"
        built = graph.build(show_all=show_all)
        legend = [(name, statuses.word(name), statuses.colour(name))
                  for name in ("success", "failed", "timeout", "running", "skipped", "stopped")]
        return super().get_context_data(
            graph=built, show_all=show_all, legend=legend, node_w=graph.NODE_W, node_h=graph.NODE_H,
            waiting=[node for node in built.nodes if node.waits], **kwargs)
