"""/api/channels: the shared notification channels. Viewers read them (the URL as scheme and host), operators
create, edit, delete and test them; every change goes through services.channels, like the pages and the admin."""
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tasks_app.models import Channel
from tasks_app.roles import OPERATOR, VIEWER
from tasks_app.services import channels as channel_services

from .common import VIA, actor_of
from .schema import ApiAutoSchema


class ChannelSerializer(serializers.Serializer):
    """A channel as every role sees it; `url` is written in full and read back as scheme and host."""

    name = serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}$", max_length=64,
                                  help_text="Letters, digits, '-' or '_'; what task_channels names")
    url = serializers.CharField(help_text="An Apprise URL such as dingtalk://secret@token/ (stored encrypted); read "
                                          "back as scheme and host, which sent back keeps the stored URL")
    is_default = serializers.BooleanField(required=False, default=False,
                                          help_text="Tasks that name no channel send their alerts here")
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    kind = serializers.CharField(read_only=True, help_text="The Apprise scheme: dingtalk, wecombot, slack, mailto...")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, channel):
        return {"name": channel.name, "url": channel.shown_url, "is_default": channel.is_default,
                "description": channel.description, "kind": channel.kind,
                "created_at": serializers.DateTimeField().to_representation(channel.created_at),
                "updated_at": serializers.DateTimeField().to_representation(channel.updated_at)}


TEST_RESULT = inline_serializer("ChannelTestResult", {
    "sent": serializers.BooleanField(),
    "error": serializers.CharField(help_text="What the service or the connection said, when not sent"),
    "target": serializers.CharField(help_text="Scheme and host the message went to"),
})


JSON_CHANNEL = {"application/json": ChannelSerializer}


@extend_schema_view(
    list=extend_schema(summary="List the notification channels"),
    retrieve=extend_schema(summary="A notification channel"),
    create=extend_schema(summary="Create a notification channel", request=JSON_CHANNEL,
                         responses={201: ChannelSerializer}),
    partial_update=extend_schema(summary="Change some fields of a channel", request=JSON_CHANNEL),
    destroy=extend_schema(summary="Delete a channel no task names",
                          responses={204: OpenApiResponse(description="Deleted")}),
)
class ChannelViewSet(viewsets.GenericViewSet):
    schema = ApiAutoSchema()
    queryset = Channel.objects.all()
    serializer_class = ChannelSerializer
    lookup_field = "name"
    lookup_url_kwarg = "channel_name"
    lookup_value_regex = "[A-Za-z0-9_-]{1,64}"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    required_roles = {"list": VIEWER, "retrieve": VIEWER, "create": OPERATOR, "partial_update": OPERATOR,
                      "destroy": OPERATOR, "send_test": OPERATOR}

    def get_object(self):
        name = self.kwargs[self.lookup_url_kwarg]
        channel = Channel.objects.filter(name=name).first()
        if channel is None:
            raise exceptions.NotFound(f"No channel named {name!r}.")
        return channel

    def list(self, request):
        page = self.paginate_queryset(Channel.objects.order_by("name"))
        return self.get_paginated_response(ChannelSerializer(page, many=True).data)

    def retrieve(self, request, channel_name=None):
        return Response(ChannelSerializer(self.get_object()).data)

    def create(self, request):
        channel = channel_services.create_channel(_body(request), actor=actor_of(request), via=VIA)
        return Response(ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, channel_name=None):
        channel = channel_services.update_channel(self.get_object(), _body(request), actor=actor_of(request), via=VIA)
        return Response(ChannelSerializer(channel).data)

    def destroy(self, request, channel_name=None):
        channel_services.delete_channel(self.get_object(), actor=actor_of(request), via=VIA)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Send a test message now; the answer says whether it was sent and the exact error",
                   request=None, responses={200: TEST_RESULT})
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request, channel_name=None):
        notice = channel_services.send_test(self.get_object(), actor=actor_of(request), via=VIA)
        return Response({"sent": notice.status == "sent", "error": notice.last_error, "target": notice.target})


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
    return dict(request.data.items())
