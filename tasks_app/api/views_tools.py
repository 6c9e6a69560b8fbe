"""Endpoints beside /api/tasks: cron preview, export and import of the tasks.json format, and backups.
Kept outside /api/tasks/... so that no task id can collide with them."""
import zoneinfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks_app import cron, params
from tasks_app.conffile import backups
from tasks_app.definition.loader import TaskFileError
from tasks_app.models import Task, calendar_named
from tasks_app.roles import ADMIN, VIEWER, has_role
from tasks_app.services import import_export

from .common import VIA, actor_of, logger, who
from .parsers import StrictJSONParser
from .schema import ApiAutoSchema, query
from .serializers import BackupSerializer, CronPreviewSerializer, ImportResultSerializer

# A refused document lists its problems; a bad query parameter is the usual {"<name>": ["message"]}.
ProblemsSerializer = inline_serializer(
    "ImportProblems",
    {
        "detail": serializers.CharField(required=False),
        "problems": inline_serializer(
            "ImportProblem",
            {"task_id": serializers.CharField(), "field": serializers.CharField(), "message": serializers.CharField()},
            many=True,
            required=False,
        ),
    },
)
TasksDocument = inline_serializer(
    "TasksDocument",
    {"tasks": serializers.ListField(child=serializers.DictField(),
                                    help_text="Tasks with the fields of conf/tasks.json"),
     "calendars": serializers.ListField(child=serializers.DictField(), required=False,
                                        help_text="Custom calendars (name, description, base, added_dates, "
                                                  "removed_dates, ranges); created or updated, never deleted")},
)


def problems_response(exc, what):
    problems = [{"task_id": t or "", "field": f, "message": m} for t, f, m in exc.problems]
    return Response(
        {"detail": f"{len(problems)} problem(s); nothing was {what}.", "problems": problems},
        status=status.HTTP_400_BAD_REQUEST,
    )


def result_json(result, replace):
    return {
        "dry_run": result.dry_run,
        "replace": replace,
        "created": result.created,
        "updated": result.updated,
        "deleted": result.deleted,
        "unchanged": result.unchanged,
        "calendars_created": result.calendars_created,
        "calendars_updated": result.calendars_updated,
    }


class ApiView(APIView):
    schema = ApiAutoSchema()


class CronPreviewView(ApiView):
    required_roles = {"get": VIEWER}

    @extend_schema(
        summary="Check a cron expression: the next fire times and the expression in words (zh-hans or en)",
        parameters=[
            query("expr", str, "Cron expression, e.g. */3 * * * *", required=True, max_length=200),
            query("tz", str, "IANA time zone (default: the server's)", max_length=64),
            query("count", int, "How many fire times (1-100, default 5)", minimum=1, maximum=100),
            query("after", OpenApiTypes.DATETIME, "Fire times after this instant (default: now)"),
            query("calendar", str, "A business calendar whose excluded days the fire times skip", max_length=64),
            OpenApiParameter("Accept-Language", str, OpenApiParameter.HEADER, description="zh-hans or en"),
        ],
        responses=CronPreviewSerializer,
    )
    def get(self, request):
        asked = request.query_params
        expr = params.text(asked, "expr")
        if not expr:
            raise exceptions.ValidationError({"expr": ["expr is required, e.g. ?expr=*/3 * * * *"]})
        tz = params.zone_name(asked, "tz", settings.TIME_ZONE)
        count = params.integer(asked, "count", 5, minimum=1, maximum=100)
        after = params.moment(asked, "after", tz) or timezone.now()
        calendar = params.text(asked, "calendar", 64) or ""
        if calendar and calendar_named(calendar) is None:
            raise exceptions.ValidationError({"calendar": [f"calendar {calendar!r} is not a calendar."]})
        try:
            preview = cron.preview(expr, tz, after, count, get_language())
            times = preview.times
            if calendar:  # asked of the model, as the task page and next-run do
                draft = Task(task_schedule=preview.expression, task_timezone=tz, task_calendar=calendar)
                times = [t.astimezone(zoneinfo.ZoneInfo(tz)) for t in draft.next_fire_times(count, after)]
        except cron.CronError as exc:
            raise exceptions.ValidationError({"expr": [str(exc)], "field": [exc.field]}) from None
        except OverflowError:
            raise exceptions.ValidationError({"after": ["after is too far in the future."]}) from None
        return Response({
            "expression": preview.expression,
            "description": preview.description,
            "timezone": tz,
            "calendar": calendar or None,
            "next_run_times": [t.isoformat() for t in times],
        })


class ExportView(ApiView):
    required_roles = {"get": VIEWER}

    @extend_schema(
        summary="All tasks in the conf/tasks.json format",
        description="Secrets are sealed ({\"encrypted\": token}, importable again under the same secrets key) for "
        "an admin, and written by name alone ({\"secret\": true}) for everyone else or with omit_secrets=true.",
        parameters=[query("omit_secrets", bool, "Write each secret by its name alone")],
        responses=TasksDocument,
    )
    def get(self, request):
        # Only who may import gets the sealed form: nobody else has a use for it.
        omit = bool(params.boolean(request.query_params, "omit_secrets")) or not has_role(request.user, ADMIN)
        return Response(import_export.export_document(omit_secrets=omit))


class ImportView(ApiView):
    required_roles = {"post": ADMIN}
    parser_classes = [StrictJSONParser]  # the body is a tasks.json document

    @extend_schema(
        summary="Import tasks in the conf/tasks.json format: all or nothing (admin)",
        description="400 lists every problem of every task, and then nothing changes. `replace=true` also "
        "deletes the tasks the body does not name; `dry_run=true` only says what would change.",
        parameters=[
            query("dry_run", bool, "Validate and report, change nothing"),
            query("replace", bool, "Delete tasks missing from the body"),
        ],
        request={"application/json": TasksDocument},
        responses={200: ImportResultSerializer, 400: ProblemsSerializer},
    )
    def post(self, request):
        dry_run = bool(params.boolean(request.query_params, "dry_run"))
        replace = bool(params.boolean(request.query_params, "replace"))
        document = request.data
        if not isinstance(document, dict) or not isinstance(document.get("tasks"), list):
            raise exceptions.ValidationError({"tasks": ['The body must be {"tasks": [...]}, as in conf/tasks.json.']})
        extra = sorted(key for key in document if key not in ("tasks", "calendars"))
        if extra:
            raise exceptions.ValidationError({key: [f"Unknown top-level field {key!r}."] for key in extra})
        try:
            result = import_export.import_tasks(
                {key: document[key] for key in ("tasks", "calendars") if key in document}, replace=replace, dry_run=dry_run, actor=actor_of(request), via=VIA,
                source="API request",
            )
        except TaskFileError as exc:
            logger.info("%s: import refused, %d problem(s)", who(request), len(exc.problems))
            return problems_response(exc, "imported")
        logger.info("%s imported tasks%s%s: %s", who(request), " (dry run)" if dry_run else "",
                    " replacing all" if replace else "", result.summary())
        return Response(result_json(result, replace))


class BackupListView(ApiView):
    required_roles = {"get": ADMIN}

    @extend_schema(summary="Backups of conf/tasks.json, newest first (admin)", responses=BackupSerializer(many=True))
    def get(self, request):
        return Response([
            {"name": b.name, "created_at": b.time.isoformat(), "size": b.size, "task_count": b.task_count}
            for b in backups.list_backups()
        ])


class BackupRestoreView(ApiView):
    required_roles = {"post": ADMIN}

    @extend_schema(
        summary="Restore a backup: it replaces all tasks, after a backup of the current file (admin)",
        request=None,
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, pattern=r"^tasks-[0-9T.]+Z\.json$")],
        responses={200: ImportResultSerializer, 400: ProblemsSerializer},
    )
    def post(self, request, name):
        try:
            result = import_export.restore_backup(name, actor=actor_of(request), via=VIA)
        except backups.BackupNotFound:
            raise exceptions.NotFound(f"No backup named {name!r}.") from None
        except TaskFileError as exc:
            logger.info("%s: restore of %s refused, %d problem(s)", who(request), name, len(exc.problems))
            return problems_response(exc, "restored")
        logger.info("%s restored backup %s: %s", who(request), name, result.summary())
        return Response(result_json(result, True))


@extend_schema(exclude=True)
class NotFoundView(ApiView):
    """Any other /api/... path: a JSON 404 instead of Django's HTML page."""

    permission_classes = []
    authentication_classes = []

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound(f"No API endpoint at {request.path}. See /api/docs/.")

