"""/api/tasks: the task endpoints on one viewset. Writes go through the task services, like every
other source of changes; the run, status and log endpoints live in the mixins of views_runs.py and views_logs.py."""
from collections.abc import Mapping

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response

from tasks_app.models import ExecutionStatus, Task
from tasks_app.roles import ADMIN, OPERATOR, VIEWER
from tasks_app.services import tasks as task_services

from .common import VIA, actor_of, logger, who
from .filters import filter_tasks
from .lookups import task_with_status
from .schema import ApiAutoSchema, query
from .serializers import ADDED_BY_API, TASK_STATES, TaskSerializer
from .task_json import list_json, list_rows
from .views_audit import TaskVersionsMixin
from .views_hooks import TaskHooksMixin
from .views_logs import TaskLogsMixin
from .views_runs import TaskRunsMixin

# The browsable API's HTML form works too, but the published contract is JSON.
JSON_TASK = {"application/json": TaskSerializer}


@extend_schema_view(
    list=extend_schema(
        summary="List tasks",
        parameters=[
            query("enabled", bool, "Only enabled (true) or disabled (false) tasks"),
            query("status", str, "The task's state", enum=TASK_STATES),
            query("last_status", str, "Result of the last run; 'none' for never run",
                  enum=list(ExecutionStatus.values) + ["none"]),
            query("tag", str, "Only tasks with this tag among their task_tags"),
            query("search", str, "Text in task_id, task_name or task_desc (case-insensitive)"),
        ],
    ),
    retrieve=extend_schema(summary="A task's configuration and status"),
    create=extend_schema(summary="Create a task", request=JSON_TASK, responses={201: TaskSerializer}),
    update=extend_schema(summary="Replace a task's configuration (omitted fields take their defaults)",
                         request=JSON_TASK),
    partial_update=extend_schema(summary="Change some fields of a task, e.g. {\"task_enabled\": false}",
                                 request=JSON_TASK),
    destroy=extend_schema(summary="Delete a task (admin)", responses={204: OpenApiResponse(description="Deleted")}),
)
class TaskViewSet(TaskRunsMixin, TaskLogsMixin, TaskVersionsMixin, TaskHooksMixin, viewsets.GenericViewSet):
    schema = ApiAutoSchema()
    queryset = Task.objects.select_related("status")
    serializer_class = TaskSerializer
    lookup_field = "task_id"
    lookup_value_regex = "[A-Za-z0-9_-]{1,64}"
    required_roles = {
        "list": VIEWER,
        "retrieve": VIEWER,
        "create": OPERATOR,
        "update": OPERATOR,
        "partial_update": OPERATOR,
        "destroy": ADMIN,
        **TaskRunsMixin.required_roles,
        **TaskLogsMixin.required_roles,
        **TaskVersionsMixin.required_roles,
        **TaskHooksMixin.required_roles,
    }
    extra_error_codes = {"create": ["409"], "update": ["409"], "partial_update": ["409"], "destroy": ["409"],
                         **TaskRunsMixin.extra_error_codes, **TaskVersionsMixin.extra_error_codes}

    def get_object(self):
        task = self._fresh(self.kwargs[self.lookup_field])
        self.check_object_permissions(self.request, task)
        return task

    def _fresh(self, task_id):
        task = task_with_status(task_id)  # the queryset's row, by a statement compiled once (lookups.py)
        if task is None:
            raise exceptions.NotFound(f"No task with task_id {task_id!r}.")
        return task

    def list(self, request):
        # Rows, not instances (task_json.py says why); the JSON is the one TaskSerializer makes of an instance.
        page = self.paginate_queryset(filter_tasks(list_rows(), request))
        return self.get_paginated_response(list_json(page))

    def retrieve(self, request, task_id=None):
        return Response(TaskSerializer(self.get_object()).data)

    def create(self, request):
        serializer = TaskSerializer(data=request.data, context={"service_validates": True})
        serializer.is_valid(raise_exception=True)
        task = task_services.create_task(dict(serializer.validated_data), actor=actor_of(request), via=VIA)
        logger.info("%s created task %s", who(request), task.task_id)
        location = reverse("api-task-detail", kwargs={"task_id": task.task_id})
        return Response(TaskSerializer(self._fresh(task.task_id)).data, status=status.HTTP_201_CREATED,
                        headers={"Location": location})

    def update(self, request, task_id=None, partial=False):
        task = self.get_object()
        # Only enabling or disabling skips the loader in the service (set_enabled): validated here then.
        sent = request.data
        toggle = partial and isinstance(sent, Mapping) and set(sent) - set(ADDED_BY_API) == {"task_enabled"}
        serializer = TaskSerializer(task, data=sent, partial=partial, context={"service_validates": not toggle})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if partial and set(data) == {"task_enabled"}:
            task_services.set_enabled(task, data["task_enabled"], actor=actor_of(request), via=VIA)
            logger.info("%s %s task %s", who(request), "enabled" if data["task_enabled"] else "disabled", task_id)
        else:
            if not partial:
                data.setdefault("task_id", task.task_id)
            task_services.update_task(task, data, actor=actor_of(request), via=VIA, partial=partial)
            logger.info("%s updated task %s (%s)", who(request), task_id, ", ".join(sorted(data)) or "no fields")
        return Response(TaskSerializer(self._fresh(task.task_id)).data)

    def partial_update(self, request, task_id=None):
        return self.update(request, task_id=task_id, partial=True)

    def destroy(self, request, task_id=None):
        task = self.get_object()
        task_services.delete_task(task, actor=actor_of(request), via=VIA)
        logger.info("%s deleted task %s", who(request), task_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
