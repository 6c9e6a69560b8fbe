"""The dependency graph page (/graph): every role sees the tasks and their dependencies, coloured by each task's
latest result, with why a task waits; a box opens its task; ?tag= narrows it to one tag's tasks."""
from django.views.generic import TemplateView

from tasks_app import params
from tasks_app.definition.tags import tag_param

from . import graph, queries
from . import status as statuses
from .access import RoleRequiredMixin


class GraphView(RoleRequiredMixin, TemplateView):
    template_name = "tasks/graph.html"

    def get_context_data(self, **kwargs):
        show_all = self.request.GET.get("all") == "1"
        errors = params.Errors()
        tag = errors.read(tag_param, self.request.GET, "tag")
        built = graph.build(show_all=show_all, tag=tag)
        legend = [(name, statuses.word(name), statuses.colour(name))
                  for name in ("success", "failed", "timeout", "running", "skipped", "stopped")]
        return super().get_context_data(
            graph=built, show_all=show_all, tag=tag or "", errors=errors, cloud=queries.tag_cloud(), legend=legend, node_w=graph.NODE_W, node_h=graph.NODE_H,
            waiting=[node for node in built.nodes if node.waits], **kwargs)
