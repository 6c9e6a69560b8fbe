"""Admin for executions: read-only history (only the scheduler writes it), with filters and search; every role
may look."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from tasks_app.definition.overrides import shown_overrides
from tasks_app.models import TaskExecution
from tasks_app.roles import VIEWER

from .site import RoleModelAdmin


@admin.register(TaskExecution)
class TaskExecutionAdmin(RoleModelAdmin, admin.ModelAdmin):
    # Only "view": a history that could be edited would prove nothing (superusers included).
    required_roles = {"view": VIEWER}
    list_display = ("execution_id", "task_link", "status", "trigger", "attempt", "scheduled_time", "start_time",
                    "duration_seconds", "return_code", "requested_by")
    list_filter = ("status", "trigger", ("task", admin.RelatedOnlyFieldListFilter))
    search_fields = ("task__task_id", "task__task_name")
    date_hierarchy = "start_time"
    list_select_related = ("task",)
    list_per_page = 100
    readonly_fields = ("execution_id", "task", "status", "trigger", "attempt", "scheduled_time", "queued_at",
                       "not_before", "start_time", "end_time", "duration", "return_code", "error_message",
                       "requested_by", "stop_requested_by", "worker", "pid", "output_truncated", "run_as",
                       "limits_applied", "leftover_processes", "parameters")
    fields = readonly_fields

    @admin.display(description=_("task"), ordering="task__task_id")
    def task_link(self, execution):
        url = reverse("admin:tasks_app_task_change", args=[execution.task_id])
        return format_html('<a href="{}">{}</a>', url, execution.task.task_id)

    @admin.display(description=_("parameters"))
    def parameters(self, execution):
        """The run's one-off task_env values, a secret one as *** (shown_overrides)."""
        shown = shown_overrides(execution.env_overrides)
        return ", ".join(f"{key}={'***' if value is None else value}" for key, value in shown) or "—"

    @admin.display(description=_("limits"))
    def limits_applied(self, execution):
        return execution.limits_summary() or "—"

    @admin.display(description=_("duration (s)"), ordering="duration")
    def duration_seconds(self, execution):
        return "—" if execution.duration is None else f"{execution.duration:.1f}"
