"""/api/backfills: runs of a task for a date range. Viewers read them (with their runs' counts by status);
operators start one (a run per cron slot of the range) and cancel one as a whole, through services.backfills like
the pages."""
import zoneinfo

from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tasks_app import params
from tasks_app.definition.loader import show
from tasks_app.models import Backfill, Task
from tasks_app.roles import OPERATOR, VIEWER
from tasks_app.services import backfills as backfill_services

from .common import VIA, actor_of
from .schema import ApiAutoSchema

ORDERS = ("oldest_first", "newest_first")


class BackfillSerializer(serializers.Serializer):
    task_id = serializers.CharField(help_text="The task whose slots run again")
    start = serializers.CharField(help_text="ISO 8601 date and time, or a date (its first instant); read in the "
                                            "task's zone without an offset")
    end = serializers.CharField(help_text="ISO 8601 date and time, or a date (its last instant); not in the future")
    order = serializers.ChoiceField(choices=ORDERS, required=False, default="oldest_first")
    concurrency = serializers.IntegerField(required=False, default=1, min_value=1,
                                           max_value=backfill_services.MAX_CONCURRENCY)
    rerun_succeeded = serializers.BooleanField(required=False, default=False,
                                               help_text="Also run the slots that already have a successful run")
    id = serializers.IntegerField(read_only=True)
    state = serializers.CharField(read_only=True, help_text="running, done or cancelled")
    slots = serializers.IntegerField(read_only=True, help_text="Runs it holds")
    skipped_slots = serializers.IntegerField(read_only=True, help_text="Slots left out: they had succeeded, or "
                                                                       "another backfill has them queued")
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True,
                                   help_text="Its runs by status")
    requested_by = serializers.CharField(read_only=True)
    cancelled_by = serializers.CharField(read_only=True)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # DRF's messages name the field (the key) but not the value: say what was given, as the pages do.
            if not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError({
                field: [f"{field} {show(data[field])}: {message}" if field in data else message
                        for message in messages]
                for field, messages in exc.detail.items()}) from None

    def to_representation(self, backfill):
        zone = backfill.task.timezone_name
        moment = serializers.DateTimeField(default_timezone=zoneinfo.ZoneInfo(zone))
        return {"id": backfill.pk, "task_id": backfill.task.task_id, "start": moment.to_representation(backfill.start),
                "end": moment.to_representation(backfill.end),
                "order": "newest_first" if backfill.newest_first else "oldest_first",
                "concurrency": backfill.concurrency, "rerun_succeeded": backfill.rerun_succeeded,
                "state": backfill.state, "slots": backfill.slots, "skipped_slots": backfill.skipped_slots,
                "counts": backfill.counts(), "requested_by": backfill.requested_by,
                "cancelled_by": backfill.cancelled_by,
                "created_at": serializers.DateTimeField().to_representation(backfill.created_at)}


CANCELLED = inline_serializer("BackfillCancelled", {
    "cancelled": serializers.IntegerField(help_text="Runs stopped before they started"),
    "stopping": serializers.ListField(child=serializers.IntegerField(), help_text="Running runs asked to stop"),
})


@extend_schema_view(
    list=extend_schema(summary="Backfills, newest first (?task= for one task's)"),
    retrieve=extend_schema(summary="A backfill and its runs' counts by status"),
    create=extend_schema(summary="Run a task for a date range: one run per cron slot on its calendar's days",
                         request={"application/json": BackfillSerializer}, responses={201: BackfillSerializer}),
)
class BackfillViewSet(viewsets.GenericViewSet):
    schema = ApiAutoSchema()
    queryset = Backfill.objects.all()
    serializer_class = BackfillSerializer
    lookup_value_regex = "[0-9]{1,18}"
    http_method_names = ["get", "post", "head", "options"]
    required_roles = {"list": VIEWER, "retrieve": VIEWER, "create": OPERATOR, "cancel": OPERATOR}

    def get_object(self):
        backfill = Backfill.objects.select_related("task").filter(pk=int(self.kwargs["pk"])).first()
        if backfill is None:
            raise exceptions.NotFound(f"No backfill {self.kwargs['pk']}.")
        return backfill

    def list(self, request):
        backfills = Backfill.objects.select_related("task").order_by("-id")
        task_id = params.text(request.query_params, "task", 64)
        if task_id:
            backfills = backfills.filter(task__task_id=task_id)
        page = self.paginate_queryset(backfills)
        return self.get_paginated_response(BackfillSerializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(BackfillSerializer(self.get_object()).data)

    def create(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        checked = BackfillSerializer(data=body)
        checked.is_valid(raise_exception=True)
        data = checked.validated_data
        task = Task.objects.filter(task_id=data["task_id"]).first()
        if task is None:
            raise exceptions.ValidationError({"task_id": [f"No task {data['task_id']!r}."]})
        zone = task.timezone_name
        backfill = backfill_services.start_backfill(
            task, start=params.range_bound(data, "start", zone), end=params.range_bound(data, "end", zone, end=True),
            newest_first=data["order"] == "newest_first", concurrency=data["concurrency"],
            rerun_succeeded=data["rerun_succeeded"], actor=actor_of(request), via=VIA)
        return Response(BackfillSerializer(backfill).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Cancel a backfill: its runs not started are stopped, its running ones asked to stop",
                   request=None, responses={200: CANCELLED})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        try:
            result = backfill_services.cancel_backfill(self.get_object(), actor=actor_of(request), via=VIA)
        except backfill_services.NothingToCancel as exc:
            raise exceptions.ValidationError({"non_field_errors": [str(exc)]}) from None
        return Response(result)
