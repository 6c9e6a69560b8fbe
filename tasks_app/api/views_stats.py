"""GET /api/stats: the dashboard's figures for other tools (the same numbers as /dashboard): tasks by state, runs
of the last 24 hours by status, success rates, the failing, slowest and flakiest tasks, the open incidents."""
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from tasks_app.definition.tags import tag_param
from tasks_app.insights import figures as fleet
from tasks_app.roles import VIEWER

from .schema import query
from .views_tools import ApiView

StatsSerializer = inline_serializer("Stats", {
    "now": serializers.DateTimeField(),
    "tag": serializers.CharField(allow_null=True),
    "tasks": serializers.DictField(child=serializers.IntegerField(), help_text="enabled, disabled, running, "
                                   "failing (latest run failed, timed out or lost)"),
    "runs_24h": serializers.DictField(child=serializers.IntegerField(), help_text="Runs started in the last 24 h, "
                                      "by status"),
    "success_rate_24h": serializers.FloatField(allow_null=True, help_text="Successes among the runs that ended with "
                                               "a result (success, failed, timeout, lost); null without any"),
    "success_rate_7d": serializers.FloatField(allow_null=True),
    "failing": serializers.ListField(child=serializers.DictField(), help_text="task_id, task_name, status, in_a_row, "
                                     "at_least, since, execution_id"),
    "slowest": serializers.ListField(child=serializers.DictField(), help_text="task_id, task_name, runs, median, "
                                     "p95, previous_median, trend (seconds; trend against the week before)"),
    "flakiest": serializers.ListField(child=serializers.DictField(), help_text="task_id, task_name, changes, runs"),
    "incidents": serializers.ListField(child=serializers.DictField(), help_text="kind, task_id, execution_id, "
                                       "opened_at, detail"),
})


def iso(moment):
    return moment.isoformat() if moment else None


def stats_json(found) -> dict:
    return {
        "now": iso(found.now),
        "tag": found.tag,
        "tasks": found.tasks,
        "runs_24h": found.runs_24h,
        "success_rate_24h": found.success_rate_24h,
        "success_rate_7d": found.success_rate_7d,
        "failing": [{"task_id": f.task_id, "task_name": f.task_name, "status": f.status, "in_a_row": f.in_a_row,
                     "at_least": f.at_least, "since": iso(f.since), "execution_id": f.execution_id}
                    for f in found.failing],
        "slowest": [{"task_id": s.task_id, "task_name": s.task_name, "runs": s.runs, "median": s.median, "p95": s.p95,
                     "previous_median": s.previous_median, "trend": s.trend} for s in found.slowest],
        "flakiest": [{"task_id": f.task_id, "task_name": f.task_name, "changes": f.changes, "runs": f.runs}
                     for f in found.flakiest],
        "incidents": [{"kind": i.kind, "task_id": i.task.task_id if i.task else None, "execution_id": i.execution_id,
                       "opened_at": iso(i.opened_at), "detail": i.detail} for i in found.incidents],
    }


class StatsView(ApiView):
    required_roles = {"get": VIEWER}

    @extend_schema(summary="The dashboard's figures: counts, success rates, failing, slowest and flakiest tasks",
                   parameters=[query("tag", str, "Only the tasks with this tag")], responses=StatsSerializer)
    def get(self, request):
        return Response(stats_json(fleet.fleet_figures(timezone.now(), tag_param(request.query_params))))
