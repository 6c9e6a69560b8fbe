"""GET /api/task-types: the installed task types (built in and TASK_TYPES) with their options, so a client knows
what task_type may hold and what task_options each type takes."""
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks_app import tasktypes
from tasks_app.roles import VIEWER

from .schema import ApiAutoSchema

TYPE = inline_serializer("TaskType", {
    "name": serializers.CharField(help_text="What task_type holds"),
    "label": serializers.CharField(),
    "runs_file": serializers.BooleanField(help_text="Whether task_exec names its file (required) or stays empty"),
    "performs": serializers.BooleanField(help_text="Whether the scheduler performs the run itself (no process)"),
    "options": serializers.ListField(child=serializers.DictField(), help_text="task_options it takes: name, kind, "
                                     "label, help, required, default, choices"),
})


def describe(kind) -> dict:
    return {"name": kind.name, "label": str(kind.label), "runs_file": kind.runs_file, "performs": kind.performs,
            "options": [{"name": o.name, "kind": o.kind, "label": str(o.label), "help": str(o.help),
                         "required": o.required,
                         "default": o.default, "choices": list(o.choices)} for o in kind.options]}


class TaskTypesView(APIView):
    schema = ApiAutoSchema()
    required_roles = {"get": VIEWER}

    @extend_schema(summary="The installed task types and the options each takes",
                   responses=serializers.ListSerializer(child=TYPE))
    def get(self, request):
        return Response([describe(kind) for kind in tasktypes.installed().values()])
