"""POST /api/bulk: one action on many tasks (enable, disable, run now, add or remove a tag, delete), chosen by id or
by the task list's filters ("select all matching"). Outside /api/tasks/, where any word can be a task id."""
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from tasks_app.models import Task
from tasks_app.roles import ADMIN, OPERATOR, has_role
from tasks_app.services import bulk

from .common import VIA, actor_of, logger, who
from .filters import TASK_FILTERS, filter_tasks_by
from .parsers import StrictJSONParser
from .views_tools import ApiView

BulkRequest = inline_serializer("BulkRequest", {
    "action": serializers.ChoiceField(choices=bulk.ACTIONS, help_text="delete needs the admin role"),
    "task_ids": serializers.ListField(child=serializers.CharField(), required=False,
                                      help_text="The tasks, by id; or give `filter`"),
    "filter": inline_serializer("BulkFilter", {
        name: serializers.CharField(required=False) for name in TASK_FILTERS
    }, required=False, help_text="Every task matching the task list's filters (as GET /api/tasks takes them)"),
    "tag": serializers.CharField(required=False, help_text="The tag of add_tag and remove_tag"),
})
BulkResult = inline_serializer("BulkResult", {
    "action": serializers.CharField(),
    "tag": serializers.CharField(allow_null=True),
    "counts": serializers.DictField(child=serializers.IntegerField(),
                                    help_text="How many tasks were done, unchanged, refused, not_found"),
    "results": inline_serializer("BulkOutcome", {
        "task_id": serializers.CharField(),
        "result": serializers.ChoiceField(choices=[bulk.DONE, bulk.UNCHANGED, bulk.REFUSED, bulk.NOT_FOUND]),
        "message": serializers.CharField(help_text="Why it was refused or unchanged"),
        "execution_id": serializers.IntegerField(required=False, help_text="The queued run of a run now"),
    }, many=True),
}, )


class BulkView(ApiView):
    required_roles = {"post": OPERATOR}
    parser_classes = [StrictJSONParser]

    @extend_schema(
        summary="One action on many tasks: enable, disable, run, add_tag, remove_tag, delete (admin)",
        description="Each task has its own result (done, unchanged, refused with the reason, not_found) and its own "
        "audit entry; a refused task does not stop the others. Choose the tasks by `task_ids` or by `filter`.",
        request={"application/json": BulkRequest},
        responses={200: BulkResult},
    )
    def post(self, request):
        body = request.data
        if not isinstance(body, dict):
            raise exceptions.ValidationError({"non_field_errors": ["The body must be a JSON object such as "
                                                                   '{"action": "enable", "task_ids": ["a"]}.']})
        unknown = sorted(set(body) - {"action", "task_ids", "filter", "tag"})
        if unknown:
            raise exceptions.ValidationError({key: [f"Unknown field {key!r}."] for key in unknown})
        action = body.get("action")
        if not isinstance(action, str):
            raise exceptions.ValidationError({"action": [f"action must be one of {', '.join(bulk.ACTIONS)}."]})
        if action in bulk.ADMIN_ONLY and not has_role(request.user, ADMIN):
            raise exceptions.PermissionDenied(f"The bulk action {action} needs the {ADMIN} role.")
        task_ids = self.selection(body)
        try:
            outcomes = bulk.bulk_action(action, task_ids, tag=body.get("tag"), actor=actor_of(request), via=VIA)
        except bulk.BulkError as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from None
        counts = {name: 0 for name in (bulk.DONE, bulk.UNCHANGED, bulk.REFUSED, bulk.NOT_FOUND)}
        for outcome in outcomes:
            counts[outcome.result] += 1
        logger.info("%s: bulk %s on %d task(s): %s", who(request), action, len(outcomes), counts)
        return Response({"action": action, "tag": body.get("tag"), "counts": counts,
                         "results": [o.as_dict() for o in outcomes]})

    @staticmethod
    def selection(body):
        """The task ids of `task_ids`, or of every task matching `filter`; exactly one of them."""
        if ("task_ids" in body) == ("filter" in body):
            raise exceptions.ValidationError({"task_ids": ["Give either task_ids (a list of task ids) or filter "
                                                           "(the task list's filters), not both or neither."]})
        if "task_ids" in body:
            return body["task_ids"]
        query = body["filter"]
        if not isinstance(query, dict) or not all(isinstance(v, str) for v in query.values()):
            raise exceptions.ValidationError({"filter": ["filter must be an object of text values, e.g. "
                                                         '{"tag": "nightly", "status": "idle"}.']})
        unknown = sorted(set(query) - set(TASK_FILTERS))
        if unknown:
            raise exceptions.ValidationError({"filter": [f"Unknown filter {unknown[0]!r}; filters are "
                                                         f"{', '.join(TASK_FILTERS)}."]})
        tasks = filter_tasks_by(Task.objects.all(), query).order_by("task_id")
        ids = list(tasks.values_list("task_id", flat=True)[:bulk.MAX_TASKS + 1])
        return ids
