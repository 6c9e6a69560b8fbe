"""Django admin for operators. Saving, deleting, enabling and running go through the task services, so the
admin validates with TaskLoader, mirrors conf/tasks.json and logs like the pages and the API (via "admin").
Who may do what follows the roles (site.py): viewers look, operators edit and run, admins delete."""
import json
import logging

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tasks_app import cron
from tasks_app.definition import fields as table
from tasks_app.definition.loader import TaskLoader, TaskValidationError, add_errors_to_form
from tasks_app.envedit import KeyValueField
from tasks_app.models import NEVER_RUN, ExecutionStatus, Task, TaskExecution
from tasks_app.roles import ADMIN, OPERATOR, VIEWER
from tasks_app.secrets.values import public_env, public_notify
from tasks_app.services import tasks as services

from .site import RoleModelAdmin

log = logging.getLogger("WebInterface")
# Edited as JSON text here: an emptied box means the field's empty default.
JSON_KINDS = (table.TEXT_MAP, table.ID_LIST, table.WORD_LIST, table.OBJECT)
# The admin's sections; a field's `admin_section` in the table says where it goes.
SECTIONS = {"task": None, "run": _("Run"), "links": _("Parameters, dependencies and notifications")}
# Read-only (a viewer), these fields show through the methods that keep secrets out.
SHOWN_READ_ONLY = {"task_env": "shown_task_env", "task_notify": "shown_task_notify"}


class TaskAdminForm(forms.ModelForm):
    """The model's fields, checked by TaskLoader in clean() so the admin shows the API's messages."""

    class Meta:
        model = Task
        fields = list(table.TASK_FIELDS)
        labels = {field.name: field.label for field in table.FIELDS}
        help_texts = {field.name: field.help for field in table.FIELDS}
        widgets = {
            "task_desc": forms.Textarea(attrs={"rows": 3}),
            "task_dependencies": forms.Textarea(attrs={"rows": 2, "cols": 60}),
            "task_notify": forms.Textarea(attrs={"rows": 4, "cols": 60}),
        }

    # The pages' editor: a lock per row makes a value a secret; a set one shows as set, never its value.
    task_env = KeyValueField(label=table.FIELD["task_env"].label, required=False, initial=dict, help_text=_(
        "🔒 marks a secret: stored encrypted, never shown again, masked in the output and logs. Leave a set "
        "secret's value empty to keep it."))
    task_data = None  # the loader's cleaned dict, what the services are given

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["task_env"].set_stored(self.instance.task_env)
            # The webhook as scheme and host: sent back unchanged, it keeps the stored URL.
            self.initial["task_notify"] = public_notify(self.instance.task_notify)

    def clean(self):
        cleaned = super().clean()
        instance_id = self.instance.task_id if self.instance.pk else None
        data = {name: cleaned[name] for name in table.TASK_FIELDS if name in cleaned}
        if instance_id:
            data["task_id"] = instance_id  # read-only on the change page
        for field in table.FIELDS:
            value = data.get(field.name)
            if field.kind in JSON_KINDS and field.name in data and value is None:  # an emptied JSON box
                data[field.name] = field.fresh_default()
            elif field.kind == table.TEXT and isinstance(value, str):
                data[field.name] = value.strip()
        try:
            self.task_data = TaskLoader().clean(data, instance_id=instance_id)
        except TaskValidationError as exc:
            add_errors_to_form(self, exc)
        return self.cleaned_data


class LastStatusFilter(admin.SimpleListFilter):
    title = _("last result")
    parameter_name = "last_status"

    def lookups(self, request, model_admin):
        return [(NEVER_RUN, _("Never run")), *((s.value, s.label) for s in ExecutionStatus.finished())]

    def queryset(self, request, queryset):
        return queryset.last_result(self.value())


@admin.register(Task)
class TaskAdmin(RoleModelAdmin, admin.ModelAdmin):
    class Media:
        css = {"all": ("tasks_app/kv_editor.css",)}  # the task_env editor without Bootstrap

    required_roles = {"view": VIEWER, "add": OPERATOR, "change": OPERATOR, "run": OPERATOR, "delete": ADMIN}
    form = TaskAdminForm
    list_display = ("task_id", "task_name", "schedule_in_words", "task_enabled", "next_run", "last_result")
    list_display_links = ("task_id", "task_name")
    list_filter = ("task_enabled", "task_overlap", LastStatusFilter)
    search_fields = ("task_id", "task_name", "task_desc")
    list_select_related = ("status",)
    actions = ("enable_tasks", "disable_tasks", "run_now")
    list_per_page = 50
    status_fields = ("running", "next_run", "last_result")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("status")

    def get_readonly_fields(self, request, obj=None):
        return ("task_id", *self.status_fields) if obj else ()

    def get_fieldsets(self, request, obj=None):
        # Who may only look sees the fields that hold secrets as any role may see them, not as stored.
        shown = SHOWN_READ_ONLY if obj is not None and request is not None and not self.has_change_permission(
            request, obj) else {}
        fieldsets = [(title, {"fields": tuple(shown.get(f.name, f.name) for f in table.FIELDS
                                              if f.admin_section == section)})
                     for section, title in SECTIONS.items()]
        if obj:
            fieldsets.insert(0, (_("Status"), {"fields": self.status_fields}))
        return fieldsets

    # ---- columns ----------------------------------------------------------------------------------------------

    @admin.display(description=_("schedule"), ordering="task_schedule")
    def schedule_in_words(self, task):
        if not task.task_schedule:
            return _("After %(deps)s") % {"deps": ", ".join(task.task_dependencies or []) or "—"}
        try:
            words = cron.describe(task.task_schedule, get_language())
        except cron.CronError:
            words = _("invalid")
        return format_html('{}<br><code>{}</code>', words, task.task_schedule)

    @admin.display(description=_("next run"), ordering="status__next_run_time")
    def next_run(self, task):
        status = task.current_status
        return status.next_run_time if status and status.next_run_time else "—"

    @admin.display(description=_("last result"), ordering="status__last_end_time")
    def last_result(self, task):
        status = task.current_status
        if status is None or not status.last_status:
            return _("Never run")
        label = ExecutionStatus(status.last_status).label if status.last_status in ExecutionStatus.values else (
            status.last_status)
        moment = status.last_end_time or status.last_start_time
        if moment is None:
            return label
        from django.utils import formats, timezone

        return f"{label} · {formats.date_format(timezone.localtime(moment), 'SHORT_DATETIME_FORMAT')}"

    @admin.display(description=table.FIELD["task_env"].label)
    def shown_task_env(self, task):
        rows = [(key, _("🔒 secret, set %(when)s") % {"when": value["changed_at"] or "?"}
                 if isinstance(value, dict) else value) for key, value in public_env(task.task_env or {}).items()]
        return format_html_join(mark_safe("<br>"), "<code>{}</code> = {}", rows) if rows else "—"

    @admin.display(description=table.FIELD["task_notify"].label)
    def shown_task_notify(self, task):
        return json.dumps(public_notify(task.task_notify or {}), ensure_ascii=False)

    @admin.display(description=_("running"), boolean=True)
    def running(self, task):
        status = task.current_status
        return bool(status and status.running)

    # ---- saving and deleting through the services ---------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        actor = request.user.get_username()
        if change:
            task = services.update_task(Task.objects.get(pk=obj.pk), form.task_data, actor=actor, via="admin")
        else:
            task = services.create_task(form.task_data, actor=actor, via="admin")
        # The admin goes on with `obj` (its messages, the change log, the redirect): give it the stored row.
        for field in Task._meta.concrete_fields:
            setattr(obj, field.attname, getattr(task, field.attname))
        obj._state.adding, obj._state.db = False, task._state.db

    def delete_model(self, request, obj):
        services.delete_task(obj, actor=request.user.get_username(), via="admin")

    def delete_queryset(self, request, queryset):
        remaining = {task.task_id: task for task in queryset}
        # Delete the dependents first, so no task is deleted while another in the selection still needs it.
        while remaining:
            needed = {dep for task in remaining.values() for dep in task.task_dependencies or []}
            ready = [tid for tid in remaining if tid not in needed] or list(remaining)
            for task_id in ready:
                services.delete_task(remaining.pop(task_id), actor=request.user.get_username(), via="admin")

    def get_deleted_objects(self, objs, request):
        """Tasks that other tasks (outside the selection) depend on are shown as protected: Django then
        refuses the deletion and says why, instead of failing half-way."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # A task's history goes with it (as through the API and the pages); that no one may delete an execution
        # by itself must not stop the task's deletion.
        perms_needed.discard(TaskExecution._meta.verbose_name)
        selected = {task.task_id for task in objs}
        for task in objs:
            for dependent in services.dependents_of(task.task_id):
                if dependent not in selected:
                    protected.append(_("Task %(dependent)s depends on %(task)s") % {
                        "dependent": dependent, "task": task.task_id})
        return deleted, counts, perms_needed, protected

    # ---- actions ----------------------------------------------------------------------------------------------

    @admin.action(description=_("Enable selected tasks"), permissions=["change"])
    def enable_tasks(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description=_("Disable selected tasks"), permissions=["change"])
    def disable_tasks(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled):
        changed = 0
        for task in queryset:
            if task.task_enabled != enabled:
                services.set_enabled(task, enabled, actor=request.user.get_username(), via="admin")
                changed += 1
        if enabled:
            text = ngettext("%(count)d task enabled.", "%(count)d tasks enabled.", changed)
        else:
            text = ngettext("%(count)d task disabled.", "%(count)d tasks disabled.", changed)
        self.message_user(request, text % {"count": changed}, messages.SUCCESS)

    def has_run_permission(self, request):
        return self.role_permits(request, "run")

    @admin.action(description=_("Run selected tasks now"), permissions=["run"])
    def run_now(self, request, queryset):
        from tasks_app.services.executions import run_now  # the engine's side; imported when used

        queued = []
        for task in queryset:
            try:
                execution = run_now(task, actor=request.user.get_username(), via="admin")
            except Exception as exc:  # whatever the engine refuses, the operator sees why instead of a 500
                log.warning("Run now of %s from the admin failed: %r", task.task_id, exc)
                reason = str(exc) or _("run now is not available")
                self.message_user(request, _("Task %(task)s was not started: %(reason)s") % {
                    "task": task.task_id, "reason": reason}, messages.ERROR)
                continue
            queued.append(f"{task.task_id} #{getattr(execution, 'execution_id', '?')}")
        if queued:
            self.message_user(request, _("Queued to run now: %(runs)s. The scheduler starts them within a second.")
                              % {"runs": ", ".join(queued)}, messages.SUCCESS)
