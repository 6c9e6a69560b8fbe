"""Admin for trigger URLs: operators see them (never a token: only a hash is stored) and revoke them through the
service, like the task page; they are made on the task page or through the API, where the token is shown once."""
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tasks_app.models import TriggerToken
from tasks_app.roles import OPERATOR
from tasks_app.services import hooks as hook_services

from .site import RoleModelAdmin


@admin.register(TriggerToken)
class TriggerTokenAdmin(RoleModelAdmin, admin.ModelAdmin):
    required_roles = {"view": OPERATOR, "revoke": OPERATOR}
    list_display = ("prefix", "name", "task", "state", "created_by", "created_at", "expires_at", "last_used_at")
    list_filter = (("task", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("prefix", "name", "task__task_id")
    list_select_related = ("task",)
    readonly_fields = ("task", "name", "prefix", "created_by", "created_at", "expires_at", "last_used_at",
                       "revoked_at", "revoked_by")
    fields = readonly_fields
    actions = ("revoke",)

    def has_revoke_permission(self, request):
        return self.role_permits(request, "revoke")

    @admin.action(description=_("Revoke selected trigger URLs"), permissions=["revoke"])
    def revoke(self, request, queryset):
        done = sum(hook_services.revoke_hook(hook, actor=request.user.get_username(), via="admin")
                   for hook in queryset.select_related("task"))
        self.message_user(request, ngettext("%(count)d trigger URL revoked.", "%(count)d trigger URLs revoked.", done)
                          % {"count": done}, messages.SUCCESS)
