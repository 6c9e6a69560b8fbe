"""JSON shapes of the API. Task input is validated by TaskLoader, so the API says what the pages, the admin
and an import say; the declared fields describe the shape for the browsable API and the OpenAPI schema."""
import operator
from collections.abc import Mapping
from functools import cached_property

from django.http import QueryDict
from django.utils.text import format_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.relations import PKOnlyObject

from tasks_app.definition import fields as table
from tasks_app.definition.fields import TASK_ID_MAX_LENGTH, TASK_ID_PATTERN, task_to_dict
from tasks_app.definition.loader import TaskLoader, TaskValidationError
from tasks_app.models import TASK_STATES, ExecutionStatus, TaskExecution, Trigger, Worker
from tasks_app.models.worker import STATE_LABELS

from .task_json import answer_times, in_zone, status_of, task_json_of

# What the API adds to a task (its times and status); a PUT of a GET sends them back, and they are ignored.
ADDED_BY_API = ("created_at", "updated_at", "status")


def in_task_zone(task, moment):
    """An aware datetime as ISO 8601 with the offset of the task's zone (None stays None)."""
    return in_zone(task.timezone_name, moment)


@extend_schema_field({"type": "string", "enum": list(TASK_STATES)})
class TaskStateField(serializers.CharField):
    """running, idle or disabled; an inline enum, so the schema does not mix it up with an execution's status."""


class TaskStatusSerializer(serializers.Serializer):
    """The runtime status of a task (what export writes to task_status.json), read from TaskStatus."""

    task_id = serializers.CharField()
    status = TaskStateField()
    running = serializers.BooleanField()
    last_status = serializers.CharField(allow_blank=True, help_text="Status of the last finished run, or ''")
    last_execution = serializers.IntegerField(allow_null=True, help_text="execution_id of the last run")
    last_start_time = serializers.DateTimeField(allow_null=True)
    last_end_time = serializers.DateTimeField(allow_null=True)
    next_run_time = serializers.DateTimeField(allow_null=True, help_text="In the task's zone; null when disabled")
    timezone = serializers.CharField()

    def to_representation(self, task):
        return status_of(task)


# A task_env value: text, or a secret. Set one with {"secret": "value"}; it is shown as {"secret": true,
# "changed_at": ...}, and sending that back keeps it; {"encrypted": token} is a sealed one from an export.
ENV_VALUE_SCHEMA = {"anyOf": [
    {"type": "string"},
    {"type": "object", "description": "A secret to set: stored encrypted, never shown again",
     "properties": {"secret": {"type": "string", "minLength": 1}}, "required": ["secret"]},
    {"type": "object", "description": "A secret as shown; sent back unchanged it keeps the stored value",
     "properties": {"secret": {"type": "boolean", "enum": [True]},
                    "changed_at": {"type": "string", "format": "date-time", "nullable": True}},
     "required": ["secret"]},
    {"type": "object", "description": "A secret sealed under the secrets key, as in conf/tasks.json and exports",
     "properties": {"encrypted": {"type": "string"}}, "required": ["encrypted"]},
]}


@extend_schema_field({"type": "object", "additionalProperties": ENV_VALUE_SCHEMA})
class TaskEnvField(serializers.DictField):
    """task_env: names to text values or secrets (the loader checks and seals them)."""


def task_api_field(field):
    """The serializer field of a task field, from the field table: its kind, default, limits, label and help. The
    loader checks the values (so the API's messages are the pages'); these fields describe the shape for the schema."""
    common = {"help_text": format_lazy("{}: {}", field.label, field.help) if field.help else field.label}
    if not field.required:
        default = field.default
        common.update(required=False, default=type(default) if isinstance(default, (dict, list)) else default)
    if field.kind == table.ID:
        return serializers.RegexField(TASK_ID_PATTERN, max_length=TASK_ID_MAX_LENGTH, **common)
    if field.kind == table.TEXT:
        return serializers.CharField(max_length=field.max_length, allow_blank=not field.required, **common)
    if field.kind == table.INTEGER:
        low, high = field.limits
        return serializers.IntegerField(min_value=low, max_value=high, allow_null=field.nullable, **common)
    if field.kind == table.BOOLEAN:
        return serializers.BooleanField(allow_null=field.nullable, **common)
    if field.kind == table.CHOICE:
        return serializers.ChoiceField(choices=field.choices.choices, **common)
    if field.kind == table.ID_LIST:
        return serializers.ListField(child=serializers.RegexField(TASK_ID_PATTERN, max_length=TASK_ID_MAX_LENGTH),
                                     **common)
    if field.kind == table.WORD_LIST:
        return serializers.ListField(child=serializers.RegexField(table.TAG_PATTERN, max_length=32),
                                     max_length=table.MAX_TAGS, **common)
    if field.kind == table.TEXT_MAP:
        return TaskEnvField(**common)
    return serializers.DictField(**common)


class TaskSerializer(serializers.Serializer):
    """A task: every field of the field table, plus its times and status."""

    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    status = serializers.SerializerMethodField()

    def get_fields(self):
        return {**{field.name: task_api_field(field) for field in table.FIELDS}, **super().get_fields()}

    @cached_property
    def _times(self):
        return answer_times()

    def get_status(self, task) -> TaskStatusSerializer:
        return status_of(task)

    def run_validators(self, value):
        # DRF's Serializer first adds the read-only fields' defaults, building all the table's fields to find them
        # (0.8 ms of an edit's CPU, which the loader needs none of); this serializer's read-only fields have none.
        serializers.Field.run_validators(self, value)

    def to_internal_value(self, data):
        if isinstance(data, QueryDict):
            # An HTML form of the browsable API sends text: let the declared fields turn it into JSON types.
            data = {k: v for k, v in super().to_internal_value(data).items()}
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": [f"Expected a JSON object with the task's fields, got {type(data).__name__}."]}
            )
        # What the API itself adds (status, times) may come back in a PUT of a GET: ignore it.
        data = {k: v for k, v in data.items() if k not in ADDED_BY_API}
        if self.context.get("service_validates"):
            # The view hands the data to a task service, which runs the same TaskLoader on it (and its errors
            # become the same 400): validating here as well would double an edit's main cost.
            return data
        instance_id = self.instance.task_id if self.instance is not None else None
        merged = data
        if self.instance is not None:
            base = task_to_dict(self.instance) if self.partial else {"task_id": instance_id}
            merged = {**base, **data}
        try:
            TaskLoader().clean(merged, instance_id=instance_id)
        except TaskValidationError as exc:
            raise serializers.ValidationError(exc.errors) from None
        return data  # as sent: the service validates it again, the same way, inside its transaction

    def to_representation(self, task):
        return task_json_of(task, self._times)  # the one definition (task_json.py), which the list uses too


class ExecutionSerializer(serializers.ModelSerializer):
    task_id = serializers.CharField(source="task.task_id", read_only=True)
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, read_only=True)
    trigger = serializers.ChoiceField(choices=Trigger.choices, read_only=True)

    class Meta:
        model = TaskExecution
        fields = (
            "execution_id", "task_id", "status", "trigger", "scheduled_time", "attempt", "queued_at", "not_before",
            "start_time", "end_time", "return_code", "error_message", "duration", "requested_by",
            "stop_requested_by", "worker", "node", "pid", "output_truncated", "note", "backfill",
        )
        read_only_fields = fields
        extra_kwargs = {"note": {"help_text": "What the engine says about a run that went ahead (a calendar without "
                                              "data for the year)"},
                        "backfill": {"help_text": "The backfill this run is one slot of (/api/backfills/{id})"}}


def execution_rows(runs) -> list[dict]:
    """ExecutionSerializer's answer for each run, through one set of its fields made once per process: a
    ModelSerializer builds its 20 fields from the model at every request, a tenth of a history's CPU. The loop is
    DRF's own (Serializer.to_representation); these fields keep no state between calls."""
    global _EXECUTION_FIELDS
    if _EXECUTION_FIELDS is None:
        _EXECUTION_FIELDS = [field for field in ExecutionSerializer().fields.values() if not field.write_only]
    times = answer_times()  # the request's zone read once, not for each of a history's 100 times
    shown = [(field.field_name, _reader(field), times.to_representation if _plain_time(field) else
              field.to_representation) for field in _EXECUTION_FIELDS]
    rows = []
    for run in runs:
        row = {}
        for name, read, represent in shown:
            attribute = read(run)
            empty = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            row[name] = None if empty is None else represent(attribute)
        rows.append(row)
    return rows


def _plain_time(field):
    """A DateTimeField with DRF's own format and the current zone (what ModelSerializer makes of a model's)."""
    return type(field) is serializers.DateTimeField and not {"format", "timezone"} & vars(field).keys()


def _reader(field):
    """field.get_attribute, or plain getattr where that is what it comes to: a field reading one column of the run
    (DRF's get_attribute asks of each value whether the run is a Mapping and the value a callable; a column's
    value never is one, and the column is always there). A third of a history's serializer."""
    name = field.source_attrs[0] if len(field.source_attrs) == 1 else None
    column = _EXECUTION_COLUMNS.get(name)
    if type(field).get_attribute is serializers.Field.get_attribute and column is not None and not column.is_relation:
        return operator.attrgetter(name)
    return field.get_attribute


_EXECUTION_FIELDS = None
_EXECUTION_COLUMNS = {column.attname: column for column in TaskExecution._meta.concrete_fields}

# The columns a history reads: what ExecutionSerializer shows, and the task (the one the history is of).
HISTORY_COLUMNS = ("task", *(name for name in ExecutionSerializer.Meta.fields if name != "task_id"))


class ExecutionDetailSerializer(ExecutionSerializer):
    output = serializers.CharField(read_only=True, help_text="Captured stdout and stderr (the kept part)")
    output_url = serializers.CharField(read_only=True, help_text="The captured output as a plain text file")
    run_as = serializers.CharField(read_only=True, help_text="The user the script ran as")
    limits = serializers.JSONField(
        read_only=True, help_text='Resource limits and what enforced them: {"mechanism": "cgroup-v1", '
                                  '"memory": bytes, "cpu": seconds, "processes", "file_size", "open_files"}')
    leftover_processes = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Processes of the run still alive when it ended, then killed")
    env_overrides = serializers.JSONField(
        read_only=True, help_text='One-off task_env values the run was given; a secret one as {"secret": true}')

    class Meta(ExecutionSerializer.Meta):
        fields = ExecutionSerializer.Meta.fields + ("run_as", "limits", "leftover_processes", "env_overrides",
                                                    "output", "output_url")
        read_only_fields = fields


class RunBodySerializer(serializers.Serializer):
    env = serializers.DictField(child=serializers.JSONField(), required=False, help_text=(
        "One-off task_env values for this run, e.g. {\"DAY\": \"2024-01-31\"}; {\"secret\": \"...\"} for a "
        "secret one. Refused (400 under env) unless the task's task_allow_overrides is true"))


class QueuedSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    execution_id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField(help_text="Where to follow the run")


class StopSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    stopping = serializers.ListField(child=serializers.IntegerField(), help_text="execution_ids asked to stop")


class NextRunSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    timezone = serializers.CharField()
    enabled = serializers.BooleanField()
    task_schedule = serializers.CharField(allow_blank=True)
    next_run_time = serializers.CharField(allow_null=True, help_text="ISO 8601 in the task's zone; null if none")
    next_run_times = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Only with ?count= or ?after="
    )
    calendar = serializers.CharField(allow_null=True, help_text="The task_calendar whose excluded days these times "
                                                                "skip; null if the task has none")


class LogLineSerializer(serializers.Serializer):
    offset = serializers.IntegerField(help_text="Byte offset of the line in the file")
    text = serializers.CharField(allow_blank=True)
    time = serializers.CharField(allow_null=True, help_text="The line's record time, ISO 8601")
    level = serializers.CharField(allow_null=True)
    truncated = serializers.BooleanField()


class LogChunkSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    file = serializers.CharField(help_text="The log's path as configured (task_log)")
    exists = serializers.BooleanField()
    size = serializers.IntegerField()
    lines = LogLineSerializer(many=True)
    start_offset = serializers.IntegerField(help_text="Earliest byte examined; pass as ?before= for older lines")
    next_offset = serializers.IntegerField(help_text="Pass as ?offset= to get only lines written since")
    more_before = serializers.BooleanField()
    partial = serializers.BooleanField(help_text="The last line is unfinished; it comes again from next_offset")
    reset = serializers.BooleanField(help_text="The offset was past the end (log rotated): read from 0")
    scan_limited = serializers.BooleanField(help_text="Stopped after scanning the most bytes one request may")
    central = serializers.BooleanField(help_text="Read from the database: the runs ran on Celery workers, which "
                                                 "ship their log lines (central logs)")


class CronPreviewSerializer(serializers.Serializer):
    expression = serializers.CharField()
    description = serializers.CharField()
    timezone = serializers.CharField()
    calendar = serializers.CharField(allow_null=True, help_text="The calendar whose excluded days were skipped")
    next_run_times = serializers.ListField(child=serializers.CharField())


class ImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    replace = serializers.BooleanField()
    created = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    deleted = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())
    calendars_created = serializers.ListField(child=serializers.CharField(), help_text="Custom calendars")
    calendars_updated = serializers.ListField(child=serializers.CharField())


class BackupSerializer(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField(required=False)
    created_at = serializers.CharField(required=False, allow_null=True)


class WorkerSerializer(serializers.ModelSerializer):
    """A Celery worker process (SCHEDULER_EXECUTOR=celery)."""

    name = serializers.CharField(read_only=True, help_text="<hostname>:<pid>; the node of the runs it claims")
    queues = serializers.ListField(child=serializers.CharField(), read_only=True,
                                   help_text="The queues (task_queue values) it serves")
    state = serializers.ChoiceField(choices=list(STATE_LABELS), read_only=True,
                                    help_text="alive; lost: no heartbeat for WORKER_LOST_AFTER; stopped: it shut down")
    running = serializers.IntegerField(read_only=True, help_text="Runs going on it now")

    class Meta:
        model = Worker
        fields = ("id", "name", "hostname", "host", "pid", "queues", "concurrency", "running", "state", "version",
                  "started_at", "last_heartbeat", "stopped_at")
        read_only_fields = fields
