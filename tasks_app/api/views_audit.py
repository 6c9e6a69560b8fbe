"""The audit trail (GET /api/audit) and a task's versions (GET /api/tasks/{id}/versions, POST
/api/tasks/{id}/versions/{n}/restore: operators, like an edit). A restore goes through the same service as the
pages' button, so it is validated, mirrored to conf/tasks.json, seen by the scheduler within a tick and audited."""
from datetime import timezone as dt_timezone

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics
from rest_framework.decorators import action
from rest_framework.response import Response

from tasks_app import params
from tasks_app.audit import events, trail, versions
from tasks_app.roles import OPERATOR, VIEWER
from tasks_app.services import versions as version_services

from .common import VIA, actor_of, logger, who
from .schema import ApiAutoSchema, query
from .serializers_audit import AuditEntrySerializer, RestoredVersionSerializer, TaskVersionSerializer

NUMBER = OpenApiParameter("number", {"type": "integer", "minimum": 1, "maximum": 999_999_999},
                          OpenApiParameter.PATH, description="The task's own version number: 1, 2, 3...")


class AuditView(generics.GenericAPIView):
    """A generic view for its pager: 50 entries a page (the API's page numbers), as the task list."""

    schema = ApiAutoSchema()
    required_roles = {"get": VIEWER}
    serializer_class = AuditEntrySerializer

    @extend_schema(
        summary="The audit trail, newest first: who changed what, when, through what and from where",
        parameters=[
            query("user", str, "Who acted (a user name, import, bootstrap, cli...)", max_length=200),
            query("task", str, "Entries about this task_id", max_length=200),
            query("action", str, "Only this action", enum=events.EVENTS),
            query("since", OpenApiTypes.DATETIME, "At or after this instant (ISO 8601)"),
            query("until", OpenApiTypes.DATETIME, "Before this instant (ISO 8601)"),
        ],
        responses=AuditEntrySerializer(many=True),
    )
    def get(self, request):
        asked = request.query_params
        rows = trail.filter_entries(
            trail.entries(), user=(params.text(asked, "user") or "").strip(),
            task=(params.text(asked, "task") or "").strip(), action=params.choice(asked, "action", events.EVENTS),
            since=_utc(params.moment(asked, "since", settings.TIME_ZONE)),
            until=_utc(params.moment(asked, "until", settings.TIME_ZONE)))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(AuditEntrySerializer(page, many=True).data)


def _utc(moment):
    # Before the database sees it: PostgreSQL refuses offsets past 15:59 that Python accepts (+21:22).
    return moment.astimezone(dt_timezone.utc) if moment else None


class TaskVersionsMixin:
    required_roles = {"versions": VIEWER, "restore_version": OPERATOR}
    extra_error_codes = {"restore_version": ["409"]}

    @extend_schema(summary="The task's versions, newest first: each with who made it and its whole configuration",
                   responses=TaskVersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request, task_id=None):
        task = self.get_object()
        page = self.paginate_queryset(versions.version_entries(task.task_id))
        return self.get_paginated_response(TaskVersionSerializer(page, many=True).data)

    @extend_schema(summary="Make the task what version {number} was (operator); the restore is a new version",
                   request=None, parameters=[NUMBER], responses=RestoredVersionSerializer)
    @action(detail=True, methods=["post"], url_path=r"versions/(?P<number>[1-9][0-9]{0,8})/restore",
            url_name="version-restore")
    def restore_version(self, request, task_id=None, number=None):
        task = self.get_object()
        before = versions.latest_number(task.task_id)
        try:
            version_services.restore_version(task, int(number), actor=actor_of(request), via=VIA)
        except version_services.VersionNotFound as exc:
            raise exceptions.NotFound(str(exc)) from None
        latest = versions.latest_number(task.task_id)
        logger.info("%s restored version %s of task %s (now version %s)", who(request), number, task.task_id, latest)
        return Response({"task_id": task.task_id, "restored_version": int(number), "version": latest,
                         "changed": latest != before, "task": self.serializer_class(self._fresh(task.task_id)).data})
