"""/api/calendars: business calendars. Viewers read the custom calendars and the days of any calendar (built in
or custom: /api/calendars/{name}/days?from=&to=); operators create, edit and delete custom ones, through
services.calendars like the pages and the admin."""
import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from tasks_app import workdays
from tasks_app.models import Calendar, calendar_named
from tasks_app.roles import OPERATOR, VIEWER
from tasks_app.services import calendars as calendar_services

from .common import VIA, actor_of
from .schema import ApiAutoSchema

MAX_DAYS = 731  # two years of days in one answer


class RangeSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    label = serializers.CharField(required=False, allow_blank=True, max_length=200)


class CalendarSerializer(serializers.Serializer):
    name = serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}$", max_length=64,
                                  help_text="Letters, digits, '-' or '_'; what task_calendar names")
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)
    base = serializers.CharField(required=False, allow_blank=True,
                                 help_text="A built-in calendar (cn-workdays, cn-holidays, weekdays, "
                                           "<country code>-workdays) or empty for every day")
    added_dates = serializers.ListField(child=serializers.DateField(), required=False,
                                        help_text="Days that run whatever the base and ranges say")
    removed_dates = serializers.ListField(child=serializers.DateField(), required=False,
                                          help_text="Days that do not run")
    ranges = RangeSerializer(many=True, required=False, help_text="Periods without runs (freezes, maintenance)")
    tasks = serializers.ListField(child=serializers.CharField(), read_only=True, help_text="Task ids on it")
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, calendar):
        return {"name": calendar.name, "description": calendar.description, "base": calendar.base,
                "added_dates": calendar.added_dates, "removed_dates": calendar.removed_dates,
                "ranges": calendar.ranges, "tasks": calendar_services.tasks_on(calendar.name),
                "updated_at": serializers.DateTimeField().to_representation(calendar.updated_at)}


class DaySerializer(serializers.Serializer):
    date = serializers.DateField()
    runs = serializers.BooleanField(help_text="Whether a task on the calendar runs that day")
    reason = serializers.CharField(help_text="Why not, when it does not")
    fallback = serializers.CharField(help_text="Set when the calendar has no data for the year (Monday to Friday)")


JSON_CALENDAR = {"application/json": CalendarSerializer}


@extend_schema_view(
    list=extend_schema(summary="List the custom calendars (the built-in ones are in /api/calendars/builtin)"),
    retrieve=extend_schema(summary="A custom calendar"),
    create=extend_schema(summary="Create a custom calendar", request=JSON_CALENDAR, responses={201: CalendarSerializer}),
    partial_update=extend_schema(summary="Change some fields of a custom calendar", request=JSON_CALENDAR),
    destroy=extend_schema(summary="Delete a custom calendar no task names",
                          responses={204: OpenApiResponse(description="Deleted")}),
)
class CalendarViewSet(viewsets.GenericViewSet):
    schema = ApiAutoSchema()
    queryset = Calendar.objects.all()
    serializer_class = CalendarSerializer
    lookup_field = "name"
    lookup_url_kwarg = "calendar_name"
    lookup_value_regex = "[A-Za-z0-9_-]{1,64}"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    required_roles = {"list": VIEWER, "retrieve": VIEWER, "days": VIEWER, "builtin": VIEWER, "create": OPERATOR,
                      "partial_update": OPERATOR, "destroy": OPERATOR}

    def get_object(self):
        name = self.kwargs[self.lookup_url_kwarg]
        calendar = Calendar.objects.filter(name=name).first()
        if calendar is None:
            raise exceptions.NotFound(f"No custom calendar named {name!r}.")
        return calendar

    def list(self, request):
        page = self.paginate_queryset(Calendar.objects.order_by("name"))
        return self.get_paginated_response(CalendarSerializer(page, many=True).data)

    def retrieve(self, request, calendar_name=None):
        return Response(CalendarSerializer(self.get_object()).data)

    def create(self, request):
        calendar = calendar_services.create_calendar(_body(request), actor=actor_of(request), via=VIA)
        return Response(CalendarSerializer(calendar).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, calendar_name=None):
        calendar = calendar_services.update_calendar(self.get_object(), _body(request), actor=actor_of(request),
                                                     via=VIA)
        return Response(CalendarSerializer(calendar).data)

    def destroy(self, request, calendar_name=None):
        calendar_services.delete_calendar(self.get_object(), actor=actor_of(request), via=VIA)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="The built-in calendars' names", request=None, responses={200: inline_serializer(
        "BuiltinCalendars", {"names": serializers.ListField(child=serializers.CharField())})})
    @action(detail=False, methods=["get"])
    def builtin(self, request):
        return Response({"names": workdays.builtin_names()})

    @extend_schema(summary="Which days a task on the calendar (built in or custom) runs, from one date to another",
                   parameters=[OpenApiParameter("from", OpenApiTypes.DATE, description="First day (default today)"),
                               OpenApiParameter("to", OpenApiTypes.DATE,
                                                description=f"Last day (default 30 days on; at most {MAX_DAYS} days)")],
                   responses=DaySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)  # a plain list, at most MAX_DAYS long
    def days(self, request, calendar_name=None):
        if calendar_named(calendar_name) is None:
            raise exceptions.NotFound(f"No calendar named {calendar_name!r}.")
        first = _date_param(request, "from", datetime.date.today())
        last = _date_param(request, "to", min(first, datetime.date.max - datetime.timedelta(days=30))
                           + datetime.timedelta(days=30))
        if last < first or (last - first).days >= MAX_DAYS:
            raise exceptions.ValidationError({"to": [f"to must be on or after from and at most {MAX_DAYS} days "
                                                     f"later, got {last.isoformat()}."]})
        try:
            days = calendar_services.days_between(calendar_name, first, last)
        except OverflowError:  # the last days of year 9999
            raise exceptions.ValidationError({"to": [f"to {last.isoformat()} is too far in the future."]}) from None
        return Response([{"date": day.isoformat(), "runs": verdict.runs, "reason": verdict.reason,
                          "fallback": verdict.fallback} for day, verdict in days])


def _date_param(request, name, default):
    value = request.query_params.get(name)
    if not value:
        return default
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise exceptions.ValidationError({name: [f"{name} must be a date such as 2025-10-01, got {value[:40]!r}."]}) \
            from None


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
    return dict(request.data.items())
