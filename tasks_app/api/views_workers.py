"""/api/workers: the Celery workers (SCHEDULER_EXECUTOR=celery), newest heartbeat first, for viewers and up."""
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from tasks_app.models import Worker
from tasks_app.roles import VIEWER

from .schema import ApiAutoSchema
from .serializers import WorkerSerializer


@extend_schema_view(
    list=extend_schema(summary="The workers: alive, lost or stopped, their queues and how many runs each has going"),
    retrieve=extend_schema(summary="One worker"),
)
class WorkerViewSet(viewsets.ReadOnlyModelViewSet):
    schema = ApiAutoSchema()
    queryset = Worker.objects.with_running().order_by("-last_heartbeat", "-id")
    serializer_class = WorkerSerializer
    lookup_value_regex = "[0-9]{1,18}"
    required_roles = {"list": VIEWER, "retrieve": VIEWER}
