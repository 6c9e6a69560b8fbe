"""JSON shapes of the audit trail and of a task's versions; their values are what any role may see
(tasks_app.audit.redact): never a secret, only that it is set or changed."""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tasks_app.audit import events, trail, versions

from .serializers import TaskSerializer


@extend_schema_field({"type": "object", "additionalProperties": True,
                      "description": "field -> [before, after] (null where there was none), as any role may see "
                                     "them: a secret shows as \"***\", and a secret changed as \"... (changed)\""})
class ChangesField(serializers.DictField):
    pass


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    time = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=[(name, events.label(name)) for name in events.EVENTS])
    action_label = serializers.CharField(help_text="The action in words, in the request's language")
    actor = serializers.CharField(help_text="Who: a user name, or import, bootstrap, cli, system; at a failed login "
                                            "the name that was tried")
    key = serializers.CharField(allow_null=True, help_text="The API key the request came with (name and prefix)")
    via = serializers.CharField(help_text="Through what: web, admin, api, import, restore or cli")
    object_type = serializers.CharField(help_text="task, apikey or user")
    object_id = serializers.CharField(allow_blank=True, help_text="The task_id of a task, the id of anything else")
    object = serializers.CharField(allow_blank=True, help_text="The object in words")
    task_id = serializers.CharField(allow_null=True)
    version = serializers.IntegerField(allow_null=True, help_text="The task's version this change made")
    changes = ChangesField()
    details = serializers.DictField(help_text="More about the event: the execution, the backup, the version "
                                              "restored...")
    address = serializers.CharField(allow_null=True, help_text="The client's IP address")
    correlation_id = serializers.CharField(allow_null=True, help_text="Shared by the entries of one request or file")

    def to_representation(self, entry):
        data = trail.present(entry)
        data["time"] = serializers.DateTimeField().to_representation(data["time"])
        data["action_label"] = str(data["action_label"])
        return data


class TaskVersionSerializer(AuditEntrySerializer):
    config = serializers.DictField(help_text="The task's whole configuration in this version, as any role may see it")

    def to_representation(self, entry):
        data = super().to_representation(entry)
        data["config"] = versions.visible_config(entry)
        return data


class RestoredVersionSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    restored_version = serializers.IntegerField(help_text="The version asked for")
    version = serializers.IntegerField(help_text="The task's version now (a new one, unless nothing changed)")
    changed = serializers.BooleanField(help_text="false when the task already was what that version was")
    task = TaskSerializer()
