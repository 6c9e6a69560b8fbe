"""/api/pauses: the pause switch for other tools. GET lists what is paused now and earlier; POST pauses every
task or one tag (operators); POST /api/pauses/{id}/resume resumes."""
from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from tasks_app import params
from tasks_app.models import Pause
from tasks_app.roles import OPERATOR, VIEWER
from tasks_app.services import pauses as pause_services

from .common import VIA, actor_of, logger, who
from .parsers import StrictJSONParser
from .views_tools import ApiView

PAUSE_FIELDS = {
    "id": serializers.IntegerField(),
    "tag": serializers.CharField(help_text="Empty: every task"),
    "reason": serializers.CharField(),
    "until": serializers.DateTimeField(allow_null=True, help_text="null: until resumed"),
    "started_at": serializers.DateTimeField(),
    "started_by": serializers.CharField(),
    "ended_at": serializers.DateTimeField(allow_null=True),
    "ended_by": serializers.CharField(),
    "active": serializers.BooleanField(),
}
PauseSerializer = inline_serializer("Pause", PAUSE_FIELDS)
PauseRequest = inline_serializer("PauseRequest", {
    "tag": serializers.CharField(required=False,
                                 help_text="Pause the tasks with this tag; empty or absent: every task"),
    "until": serializers.DateTimeField(required=False, allow_null=True,
                                       help_text="ISO 8601; without an offset, the server's zone; null: until resumed"),
    "reason": serializers.CharField(required=False, max_length=pause_services.REASON_MAX),
})


def pause_json(pause, now):
    def iso(moment):
        return moment.isoformat() if moment else None

    return {"id": pause.pk, "tag": pause.tag, "reason": pause.reason, "until": iso(pause.until),
            "started_at": iso(pause.started_at), "started_by": pause.started_by, "ended_at": iso(pause.ended_at),
            "ended_by": pause.ended_by, "active": pause.ended_at is None and (pause.until is None or pause.until > now)}


class PauseListView(ApiView):
    required_roles = {"get": VIEWER, "post": OPERATOR}
    parser_classes = [StrictJSONParser]

    @extend_schema(summary="The pauses: on now first, then the 50 latest",
                   responses=inline_serializer("Pauses", PAUSE_FIELDS, many=True))
    def get(self, request):
        now = timezone.now()
        active = list(Pause.objects.active(now))
        earlier = [p for p in Pause.objects.all()[:50] if p not in active]
        return Response([pause_json(p, now) for p in active + earlier])

    @extend_schema(summary="Pause every task, or the tasks with one tag (operator)",
                   description="While paused, each slot of the tasks it covers is recorded skipped with the reason; "
                   "resuming does not catch up; their trigger URLs answer 409. 400 names the field (tag, until, "
                   "reason), e.g. when it is paused already or no task has the tag.",
                   request={"application/json": PauseRequest}, responses={201: PauseSerializer})
    def post(self, request):
        body = request.data
        if not isinstance(body, dict):
            raise exceptions.ValidationError({"non_field_errors": ['The body must be a JSON object such as '
                                                                   '{"tag": "billing", "reason": "maintenance"}.']})
        unknown = sorted(set(body) - {"tag", "until", "reason"})
        if unknown:
            raise exceptions.ValidationError({key: [f"Unknown field {key!r}."] for key in unknown})
        for name in ("tag", "until", "reason"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise exceptions.ValidationError({name: [f"{name} must be text, got {type(body[name]).__name__}."]})
        until = params.moment({"until": body.get("until")}, "until", settings.TIME_ZONE)
        try:
            made = pause_services.pause(tag=body.get("tag") or "", until=until, reason=body.get("reason") or "",
                                        actor=actor_of(request), via=VIA)
        except pause_services.PauseError as exc:
            raise exceptions.ValidationError(exc.errors) from None
        logger.info("%s paused %s", who(request), made.scope)
        return Response(pause_json(made, timezone.now()), status=status.HTTP_201_CREATED)


class ResumeView(ApiView):
    required_roles = {"post": OPERATOR}

    @extend_schema(summary="Resume a pause now (operator); its skipped slots are not run",
                   parameters=[OpenApiParameter("pause_id", int, OpenApiParameter.PATH)],
                   request=None, responses={200: PauseSerializer})
    def post(self, request, pause_id):
        try:
            ended = pause_services.resume(pause_id, actor=actor_of(request), via=VIA)
        except pause_services.PauseError as exc:
            raise exceptions.NotFound(exc.message) from None
        logger.info("%s resumed %s", who(request), ended.scope)
        return Response(pause_json(ended, timezone.now()))
