"""The pause switch in the admin: every pause, read-only, and a Resume action for operators (through the pause
service, so it is audited like the page's button). Pausing itself is done on /pauses or through the API."""
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tasks_app.models import Pause
from tasks_app.roles import OPERATOR, VIEWER
from tasks_app.services import pauses as services

from .site import RoleModelAdmin


@admin.register(Pause)
class PauseAdmin(RoleModelAdmin, admin.ModelAdmin):
    required_roles = {"view": VIEWER, "resume": OPERATOR}
    list_display = ("scope", "reason", "started_at", "started_by", "until", "ended_at", "ended_by")
    list_filter = ("tag",)
    readonly_fields = [f.name for f in Pause._meta.fields]
    actions = ("resume",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a pause is history: resume it instead

    def has_resume_permission(self, request):
        return self.role_permits(request, "resume")

    @admin.action(description=_("Resume the selected pauses"), permissions=["resume"])
    def resume(self, request, queryset):
        resumed = 0
        for pause in Pause.objects.active().filter(pk__in=queryset.values("pk")):
            try:
                services.resume(pause.pk, actor=request.user.get_username(), via="admin")
                resumed += 1
            except services.PauseError as exc:
                self.message_user(request, exc.message, messages.ERROR)
        self.message_user(request, ngettext("%(count)d pause resumed.", "%(count)d pauses resumed.", resumed)
                          % {"count": resumed}, messages.SUCCESS)
