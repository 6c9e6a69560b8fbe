"""The admin follows the roles (viewer < operator < admin, tasks_app.roles): any active user with a role may
log in, each ModelAdmin says which role each permission needs, and models of other apps are for superusers."""
from django.contrib.admin.forms import AdminAuthenticationForm
from django.db import models
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tasks_app import roles
from tasks_app.front.jsonbody import BoundedJSONDecoder


def role_allows(user, needed: str | None) -> bool:
    """Whether `user` holds `needed` or a higher role; None (a permission no role grants) is never allowed."""
    if needed is None or not user.is_active:
        return False
    return roles.has_role(user, needed)


def has_admin_access(request) -> bool:
    """Replaces AdminSite.has_permission: a role, not is_staff, lets a user into /admin/."""
    return role_allows(request.user, roles.VIEWER)


class RoleAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, asking for a role instead of is_staff."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "no_role": _("This account has no role. Ask an administrator to add it to the viewer, operator or admin "
                     "group."),
    }

    def confirm_login_allowed(self, user):
        # The parent's check refuses non-staff users; only its "inactive" check (the grandparent's) is kept.
        super(AdminAuthenticationForm, self).confirm_login_allowed(user)
        if not role_allows(user, roles.VIEWER):
            raise ValidationError(self.error_messages["no_role"], code="no_role")


class RoleModelAdmin:
    """Mixin for a ModelAdmin: `required_roles` maps a permission ("view", "add", "change", "delete", or an
    action's own such as "run") to the least role that has it. A permission left out is refused to everyone,
    superusers too, so a read-only history stays read-only. Django's model permissions are not consulted."""

    required_roles: dict[str, str] = {}
    # Every JSON field of these admins: JSON nested past the recursion limit is a form error, not a 500.
    formfield_overrides = {models.JSONField: {"decoder": BoundedJSONDecoder}}

    def role_permits(self, request, permission: str) -> bool:
        return role_allows(request.user, self.required_roles.get(permission))

    def has_module_permission(self, request):
        return self.role_permits(request, "view")

    def has_view_permission(self, request, obj=None):
        return self.role_permits(request, "view") or self.role_permits(request, "change")

    def has_add_permission(self, request):
        return self.role_permits(request, "add")

    def has_change_permission(self, request, obj=None):
        return self.role_permits(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self.role_permits(request, "delete")


class SuperuserOnly:
    """Mixin for the admins of other apps (users, groups, the scheduler's job store): superusers only, whatever
    model permissions a group may have been given, so the roles stay the one thing that grants access."""

    def _superuser(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self._superuser(request)

    def has_view_permission(self, request, obj=None):
        return self._superuser(request)

    def has_add_permission(self, request, *args):  # inlines pass obj as well
        return self._superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self._superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._superuser(request) and super().has_delete_permission(request, obj)


def follow_roles(site, app_label: str) -> None:
    """Let roles into `site` and keep every model admin registered so far outside `app_label` for superusers, but
    those that follow the roles themselves (a RoleModelAdmin, such as the audit trail's)."""
    site.has_permission = has_admin_access  # an instance attribute: called as site.has_permission(request)
    site.login_form = RoleAuthenticationForm
    for model, model_admin in list(site._registry.items()):
        if model._meta.app_label == app_label or isinstance(model_admin, (SuperuserOnly, RoleModelAdmin)):
            continue
        cls = type(model_admin)
        site.unregister(model)
        site.register(model, type(f"SuperuserOnly{cls.__name__}", (SuperuserOnly, cls), {"__module__": __name__}))
