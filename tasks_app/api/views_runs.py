"""Runs of one task: execute, stop, status, next run times, and the execution history with captured output.
Web processes never run scripts: execute queues an execution that the scheduler process picks up."""
from django.http import FileResponse

from tasks_app.secrets.masking import masked_body
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tasks_app import params
from tasks_app.definition.loader import TaskValidationError
from tasks_app.definition.overrides import shown_overrides
from tasks_app.models import ExecutionStatus, TaskExecution, Trigger
from tasks_app.roles import OPERATOR, VIEWER
from tasks_app.services import executions as run_services

from .common import VIA, DOWNLOAD_RENDERERS, actor_of, logger, run_body_env, who
from .filters import filter_executions
from .pagination import ExecutionCursorPagination
from .schema import query
from .serializers import (
    HISTORY_COLUMNS,
    RunBodySerializer,
    ExecutionDetailSerializer,
    ExecutionSerializer,
    NextRunSerializer,
    QueuedSerializer,
    StopSerializer,
    TaskStatusSerializer,
    execution_rows,
    in_task_zone,
)

# The execution detail carries at most this much of the captured output; output_url has all of it.
OUTPUT_INLINE_MAX = 256 * 1024
EXECUTION_ID = OpenApiParameter("execution_id", int, OpenApiParameter.PATH)


class TaskRunsMixin:
    required_roles = {
        "execute": OPERATOR,
        "stop": OPERATOR,
        "task_status": VIEWER,
        "next_run": VIEWER,
        "executions": VIEWER,
        "execution": VIEWER,
        "execution_output": VIEWER,
    }
    extra_error_codes = {"execute": ["409"], "stop": ["409"]}

    @extend_schema(summary="Run the task now (queued; the scheduler starts it within a second); with "
                           "{\"env\": {...}} one-off task_env values, if the task allows them",
                   request={"application/json": RunBodySerializer}, responses={202: QueuedSerializer})
    @action(detail=True, methods=["post"])
    def execute(self, request, task_id=None):
        task = self.get_object()
        env = run_body_env(request)
        try:
            execution = run_services.run_now(task, actor=actor_of(request), via=VIA, env=env)
        except TaskValidationError:
            raise  # {"env": [...]}: the exception handler makes it a 400
        except ValueError as exc:  # e.g. a script that no longer exists
            raise exceptions.ValidationError({"task_exec": [str(exc)]}) from None
        logger.info("%s asked to run task %s now (execution %s)", who(request), task.task_id, execution.execution_id)
        url = reverse("api-task-execution", kwargs={"task_id": task.task_id, "execution_id": execution.execution_id})
        return Response(
            {"task_id": task.task_id, "execution_id": execution.execution_id, "status": execution.status, "url": url},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )

    @extend_schema(summary="Stop the task's running execution (409 when nothing runs)", request=None,
                   responses={202: StopSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, task_id=None):
        task = self.get_object()
        try:
            stopping = run_services.stop_task(task, actor=actor_of(request), via=VIA)
        except run_services.NothingRunning:
            return Response({"detail": f"Task {task.task_id!r} has no running execution to stop."},
                            status=status.HTTP_409_CONFLICT)
        ids = [getattr(e, "execution_id", e) for e in (stopping or [])]
        logger.info("%s asked to stop task %s (executions %s)", who(request), task.task_id, ids)
        return Response({"task_id": task.task_id, "stopping": ids}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="The task's status: running, idle or disabled, last execution, next run",
                   responses=TaskStatusSerializer)
    @action(detail=True, methods=["get"], url_path="status", url_name="status")
    def task_status(self, request, task_id=None):
        return Response(TaskStatusSerializer(self.get_object()).data)

    @extend_schema(
        summary="Next run time (in the task's zone, skipping the days its calendar excludes); with count/after, the "
                "next N fire times after an instant",
        parameters=[
            query("count", int, "How many fire times to list (1-100)", minimum=1, maximum=100),
            query("after", OpenApiTypes.DATETIME, "List fire times after this instant (default: now)"),
        ],
        responses=NextRunSerializer,
    )
    @action(detail=True, methods=["get"], url_path="next-run", url_name="next-run")
    def next_run(self, request, task_id=None):
        task = self.get_object()
        count = params.integer(request.query_params, "count", None, minimum=1, maximum=100)
        after = params.moment(request.query_params, "after", task.timezone_name)
        data = {
            "task_id": task.task_id,
            "timezone": task.timezone_name,
            "enabled": task.task_enabled,
            "task_schedule": task.task_schedule,
            "next_run_time": in_task_zone(task, task.next_run_time()),
            "calendar": task.task_calendar or None,
        }
        if count is not None or after is not None:
            try:
                times = task.next_fire_times(count or 5, after)
            except OverflowError:
                raise exceptions.ValidationError({"after": ["after is too far in the future."]}) from None
            data["next_run_times"] = [in_task_zone(task, t) for t in times]
        return Response(data)

    @extend_schema(
        summary="Execution history, newest first (by start time when filtered by since/until), paged by cursor",
        parameters=[
            query("status", str, "Only executions with this status", enum=list(ExecutionStatus.values)),
            query("trigger", str, "Only executions started this way", enum=list(Trigger.values)),
            query("since", OpenApiTypes.DATETIME, "Started at or after (ISO 8601)"),
            query("until", OpenApiTypes.DATETIME, "Started at or before (ISO 8601)"),
        ],
        responses=ExecutionSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=ExecutionCursorPagination)  # why: pagination.py
    def executions(self, request, task_id=None):
        task = self.get_object()
        # The related manager hands each run the task already read (no join), and only the columns shown are read:
        # the task's row and the runs' JSON columns, decoded on every row, were half a history's CPU.
        runs, window = filter_executions(task.executions.only(*HISTORY_COLUMNS), request, task.timezone_name)
        page = self.paginator.paginate_window(runs, request, window, view=self)
        return self.get_paginated_response(execution_rows(page))

    def _execution(self, task_id, execution_id):
        task = self.get_object()
        try:
            return task.executions.select_related("task").get(execution_id=int(execution_id))
        except (TaskExecution.DoesNotExist, ValueError, OverflowError):
            raise exceptions.NotFound(f"Task {task.task_id!r} has no execution {execution_id}.") from None

    @extend_schema(summary="One execution: every field, its captured output and a link to all of it",
                   parameters=[EXECUTION_ID], responses=ExecutionDetailSerializer)
    @action(detail=True, methods=["get"], url_path=r"executions/(?P<execution_id>[0-9]{1,18})",
            url_name="execution")
    def execution(self, request, task_id=None, execution_id=None):
        execution = self._execution(task_id, execution_id)
        data = execution_rows([execution])[0]
        data.update(run_as=execution.run_as, limits=execution.limits, leftover_processes=execution.leftover_processes,
                    env_overrides={key: value if value is not None else {"secret": True}
                                   for key, value in shown_overrides(execution.env_overrides)})
        output, cut = execution.output_tail(max_bytes=OUTPUT_INLINE_MAX)
        data["output"] = output
        data["output_truncated"] = execution.output_truncated or cut
        data["output_url"] = reverse(
            "api-task-execution-output", kwargs={"task_id": execution.task.task_id, "execution_id": execution_id}
        )
        return Response(data)

    @extend_schema(
        summary="An execution's captured output as a text file",
        parameters=[EXECUTION_ID],
        responses={(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Captured stdout and stderr")},
    )
    @action(detail=True, methods=["get"], url_path=r"executions/(?P<execution_id>[0-9]{1,18})/output",
            url_name="execution-output", renderer_classes=DOWNLOAD_RENDERERS)
    def execution_output(self, request, task_id=None, execution_id=None):
        execution = self._execution(task_id, execution_id)
        try:
            handle = execution.open_output()
        except FileNotFoundError:
            raise exceptions.NotFound(f"Execution {execution_id} has no captured output.") from None
        return FileResponse(masked_body(handle, execution.masker()), content_type="text/plain; charset=utf-8",
                            filename=f"{execution.task.task_id}-{execution_id}.out")
