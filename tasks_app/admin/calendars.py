"""Admin for custom business calendars (viewers see them, operators change them) and backfills (read-only):
saving and deleting a calendar go through services.calendars, with its checks and audit entries."""
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from tasks_app.definition.loader import TaskValidationError
from tasks_app.models import Backfill, Calendar
from tasks_app.roles import OPERATOR, VIEWER
from tasks_app.services import calendars as calendar_services

from .site import RoleModelAdmin

FIELDS = ("name", "description", "base", "added_dates", "removed_dates", "ranges")


class CalendarAdminForm(forms.ModelForm):
    class Meta:
        model = Calendar
        fields = FIELDS

    def clean(self):
        cleaned = super().clean()
        data = {name: cleaned.get(name) for name in FIELDS}
        for name, empty in (("description", ""), ("base", ""), ("added_dates", []), ("removed_dates", []),
                            ("ranges", [])):
            data[name] = data[name] if data[name] not in (None, "") else empty
        try:
            calendar_services.clean_calendar(data, Calendar.objects.get(pk=self.instance.pk)
                                             if self.instance.pk else None)
        except TaskValidationError as exc:
            raise ValidationError({name if name in self.fields else None: problems
                                   for name, problems in exc.errors.items()}) from None
        self.calendar_data = data
        return cleaned

    def _post_clean(self):
        pass  # the service validates and writes


@admin.register(Calendar)
class CalendarAdmin(RoleModelAdmin, admin.ModelAdmin):
    required_roles = {"view": VIEWER, "add": OPERATOR, "change": OPERATOR, "delete": OPERATOR}
    form = CalendarAdminForm
    list_display = ("name", "base", "description", "updated_at")
    search_fields = ("name", "description")

    def save_model(self, request, obj, form, change):
        if change:
            saved = calendar_services.update_calendar(Calendar.objects.get(pk=obj.pk), form.calendar_data,
                                                      actor=request.user, via="admin")
        else:
            saved = calendar_services.create_calendar(form.calendar_data, actor=request.user, via="admin")
        obj.pk = saved.pk

    def get_deleted_objects(self, objs, request):
        """A calendar that tasks name is protected: the delete page names the tasks and deletes nothing (the
        service would refuse it, after the admin had said it was deleted)."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for calendar in objs:
            users = calendar_services.tasks_on(calendar.name)
            if users:
                protected = [*protected, _("%(calendar)s: named by the task(s) %(tasks)s")
                             % {"calendar": calendar.name, "tasks": ", ".join(users)}]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        try:
            calendar_services.delete_calendar(obj, actor=request.user, via="admin")
        except TaskValidationError as exc:
            self.message_user(request, " ".join(" ".join(p) for p in exc.errors.values()), messages.ERROR)

    def delete_queryset(self, request, queryset):
        for calendar in queryset:
            self.delete_model(request, calendar)


@admin.register(Backfill)
class BackfillAdmin(RoleModelAdmin, admin.ModelAdmin):
    required_roles = {"view": VIEWER}
    list_display = ("id", "task", "start", "end", "concurrency", "slots", "requested_by", "created_at",
                    "cancelled_by")
    list_select_related = ("task",)
    search_fields = ("task__task_id", "requested_by")
    readonly_fields = [f.name for f in Backfill._meta.fields]
