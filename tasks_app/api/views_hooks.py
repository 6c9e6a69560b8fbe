"""Trigger URLs in the API: a task's tokens (GET/POST /api/tasks/{id}/hooks, POST .../hooks/{pk}/revoke, for
operators) and the URL itself, POST /api/hooks/<token>: no session, no API key, no CSRF; the token starts its task
and nothing else, and an unknown, revoked or expired token gets one and the same 404."""
import hashlib

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status, throttling
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks_app.roles import OPERATOR
from tasks_app.services import hooks as hook_services

from .common import VIA, actor_of, logger, run_body_env, who
from .schema import ApiAutoSchema
from .serializers import QueuedSerializer, RunBodySerializer
from .throttles import AnonThrottle

REFUSED = "No trigger URL here."  # unknown, revoked, expired: the same words, the same status


class HookSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    prefix = serializers.CharField(read_only=True, help_text="The token's first characters, to tell tokens apart")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                           help_text="Empty: the token does not expire")
    state = serializers.CharField(read_only=True, help_text="active, revoked or expired")
    created_by = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)


CREATED = inline_serializer("HookCreated", {
    "hook": HookSerializer(),
    "token": serializers.CharField(help_text="Shown this once: keep it, it cannot be read again"),
    "url": serializers.CharField(help_text="POST here to start the task"),
})
HOOK_ID = OpenApiParameter("hook_id", int, OpenApiParameter.PATH)


def hook_url(request, token) -> str:
    return request.build_absolute_uri(reverse("api-hook", kwargs={"token": token}))


class TaskHooksMixin:
    """On TaskViewSet: the trigger URLs of one task."""

    required_roles = {"hooks": OPERATOR, "revoke_hook": OPERATOR}
    extra_error_codes = {}

    @extend_schema(methods=["get"], summary="The task's trigger URLs (never their tokens)",
                   responses=HookSerializer(many=True))
    @extend_schema(methods=["post"], summary="Create a trigger URL: its token is in this answer and never again",
                   request={"application/json": HookSerializer}, responses={201: CREATED})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def hooks(self, request, task_id=None):
        task = self.get_object()
        if request.method == "GET":
            return Response(HookSerializer(task.trigger_tokens.all(), many=True).data)
        body = HookSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            hook, token = hook_services.create_hook(task, name=body.validated_data["name"],
                                                    expires_at=body.validated_data["expires_at"],
                                                    actor=actor_of(request), via=VIA)
        except ValueError as exc:
            field, _sep, message = str(exc).partition(": ")
            raise exceptions.ValidationError({field: [message]}) from None
        logger.info("%s created trigger URL %s… for task %s", who(request), hook.prefix, task.task_id)
        response = Response({"hook": HookSerializer(hook).data, "token": token, "url": hook_url(request, token)},
                            status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(summary="Revoke a trigger URL: it starts nothing any more", request=None, parameters=[HOOK_ID],
                   responses=HookSerializer)
    @action(detail=True, methods=["post"], url_path=r"hooks/(?P<hook_id>[0-9]{1,18})/revoke", url_name="hook-revoke")
    def revoke_hook(self, request, task_id=None, hook_id=None):
        task = self.get_object()
        hook = task.trigger_tokens.filter(pk=int(hook_id)).first()
        if hook is None:
            raise exceptions.NotFound(f"Task {task.task_id!r} has no trigger URL {hook_id}.")
        hook_services.revoke_hook(hook, actor=actor_of(request), via=VIA)
        hook.refresh_from_db()
        return Response(HookSerializer(hook).data)


class HookThrottle(throttling.SimpleRateThrottle):
    """Starts per token (API_THROTTLE_HOOK, e.g. "30/min"), counted under a hash of the token, never the token."""

    scope = "hook"

    def get_rate(self):
        return settings.API_THROTTLE_HOOK

    def get_cache_key(self, request, view):
        token = view.kwargs.get("token", "")
        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(token.encode()).hexdigest()}


class HookFireView(APIView):
    """POST /api/hooks/<token>: starts the token's task. No other credentials are read: the token is the only
    one, and it is good for nothing else (it is not an API key: BearerKeyAuthentication never finds it)."""

    schema = ApiAutoSchema()
    extra_error_codes = {None: ["409"]}  # the token's task is disabled or paused
    authentication_classes = []  # no session (so no CSRF), no API key
    permission_classes = [AllowAny]
    throttle_classes = [HookThrottle]

    @extend_schema(summary="Start the task of a trigger URL (no other credentials); 404 for any token that "
                           "starts nothing; the body may give one-off task_env values as for execute",
                   request={"application/json": RunBodySerializer}, responses={202: QueuedSerializer}, auth=[])
    def post(self, request, token=None):
        try:
            hook = hook_services.find_usable(token)
        except hook_services.HookRefused:
            # Guessing is bounded per address (API_THROTTLE_ANON), counting refusals only: a good token is never
            # slowed by others' bad ones, and a 429 says nothing about any token.
            guard = AnonThrottle()
            if not guard.allow_request(request, self):
                raise exceptions.Throttled(guard.wait()) from None
            raise exceptions.NotFound(REFUSED) from None
        try:
            execution = hook_services.fire_hook(hook, env=run_body_env(request))
        except hook_services.TaskDisabled:
            return Response({"detail": f"Task {hook.task.task_id} is disabled: enable it to start it by this URL."},
                            status=status.HTTP_409_CONFLICT)
        except hook_services.TaskPaused as paused:
            # The caller may start this task, but the pause's reason and who made it are the operators' business
            # (they are in logs/sys.log): the body names only the pause's scope and end.
            pause = paused.pause
            until = f" until {pause.until.strftime('%Y-%m-%d %H:%M UTC')}" if pause.until else ""
            return Response({"detail": f"Task {paused.task_id} is paused ({pause.scope}){until}: it starts by this "
                                       f"URL again once the pause is over.",
                             "task_id": paused.task_id,
                             "pause": {"id": pause.pk, "tag": pause.tag,
                                       "until": pause.until.isoformat() if pause.until else None}},
                            status=status.HTTP_409_CONFLICT)
        task = hook.task
        logger.info("Trigger URL %s… started task %s (execution %s)", hook.prefix, task.task_id,
                    execution.execution_id)
        url = reverse("api-task-execution", kwargs={"task_id": task.task_id, "execution_id": execution.execution_id})
        return Response({"task_id": task.task_id, "execution_id": execution.execution_id, "status": execution.status,
                         "url": url}, status=status.HTTP_202_ACCEPTED, headers={"Location": url})

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400:
            # Django would log "Not Found: /api/hooks/<token>": the path is the credential. Log the prefix only.
            response._has_been_logged = True
            token = str(kwargs.get("token", ""))
            logger.info("Trigger URL %s… answered %s", token[:10], response.status_code)
        return response
