"""Routes of /api/: each path with or without a trailing slash, the OpenAPI schema and
Swagger UI (served from local static files), and a JSON 404 for anything else under /api/."""
from django.urls import path, re_path
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer
from rest_framework.routers import DefaultRouter
from rest_framework.settings import api_settings

from tasks_app.roles import VIEWER

from . import schema  # also registers the Bearer key scheme with drf-spectacular
from .permissions import RolePermission
from .views import TaskViewSet
from .views_audit import AuditView
from .views_backfills import BackfillViewSet
from .views_bulk import BulkView
from .views_calendars import CalendarViewSet
from .views_channels import ChannelViewSet
from .views_hooks import HookFireView
from .views_types import TaskTypesView
from .views_pauses import PauseListView, ResumeView
from .views_stats import StatsView
from .views_tools import (
    BackupListView,
    BackupRestoreView,
    CronPreviewView,
    ExportView,
    ImportView,
    NotFoundView,
)
from .views_workers import WorkerViewSet

# No ".json"-style format suffixes: the API speaks JSON only, and a suffix route passes a `format` argument
# that the task views do not take (PUT /api/tasks/x.json was a 500).
router = DefaultRouter()
router.include_format_suffixes = False
router.trailing_slash = "/?"  # the API's paths have none; browsers and DRF links add one: accept both
router.register("tasks", TaskViewSet, basename="api-task")
router.register("workers", WorkerViewSet, basename="api-worker")
router.register("channels", ChannelViewSet, basename="api-channel")
router.register("calendars", CalendarViewSet, basename="api-calendar")
router.register("backfills", BackfillViewSet, basename="api-backfill")


@extend_schema_view(get=extend_schema(exclude=True))  # the schema does not list itself
class SchemaView(SpectacularAPIView):
    generator_class = schema.ApiSchemaGenerator
    custom_settings = schema.CUSTOM_SETTINGS
    # drf-spectacular serves the schema to anyone by default; here it is for viewers and up, like the API.
    authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    permission_classes = [RolePermission]
    required_roles = {"get": VIEWER}
    # JSON first, so that an error here (401, 403) is JSON too; ?format=yaml still gives YAML.
    renderer_classes = [OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2]


class DocsView(SpectacularSwaggerView):
    authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
    permission_classes = [RolePermission]
    required_roles = {"get": VIEWER}

    def handle_exception(self, exc):
        # The page is HTML, but its errors (401, 403, 406) are JSON like every other API error.
        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response


urlpatterns = [
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^cron/preview/?$", CronPreviewView.as_view(), name="api-cron-preview"),
    re_path(r"^export/?$", ExportView.as_view(), name="api-export"),
    re_path(r"^import/?$", ImportView.as_view(), name="api-import"),
    re_path(r"^audit/?$", AuditView.as_view(), name="api-audit"),
    re_path(r"^task-types/?$", TaskTypesView.as_view(), name="api-task-types"),
    re_path(r"^hooks/(?P<token>[A-Za-z0-9_-]{1,200})/?$", HookFireView.as_view(), name="api-hook"),
    re_path(r"^bulk/?$", BulkView.as_view(), name="api-bulk"),
    re_path(r"^stats/?$", StatsView.as_view(), name="api-stats"),
    re_path(r"^pauses/?$", PauseListView.as_view(), name="api-pauses"),
    re_path(r"^pauses/(?P<pause_id>[0-9]{1,9})/resume/?$", ResumeView.as_view(), name="api-pause-resume"),
    re_path(r"^backups/?$", BackupListView.as_view(), name="api-backups"),
    re_path(r"^backups/(?P<name>[^/]{1,200})/restore/?$", BackupRestoreView.as_view(), name="api-backup-restore"),
    *router.urls,
    re_path(r"^[\s\S]*$", NotFoundView.as_view(), name="api-not-found"),  # newlines included
]
