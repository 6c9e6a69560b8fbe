"""Admin for API keys (admin role only): adding one shows the plain key once (only its hash is stored); keys
are revoked, not edited."""
import logging

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tasks_app.models import ApiKey
from tasks_app.roles import ADMIN

from .site import RoleModelAdmin

log = logging.getLogger("APIInterface")


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("user", "name")
        help_texts = {"name": _("A label to tell keys apart, e.g. 'backup script'.")}


@admin.register(ApiKey)
class ApiKeyAdmin(RoleModelAdmin, admin.ModelAdmin):
    required_roles = {"view": ADMIN, "add": ADMIN, "change": ADMIN, "delete": ADMIN}
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at", "active")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    actions = ("revoke_keys",)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name")
        return ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        # Only the label can change; a key's owner or secret never does (issue a new key instead).
        return () if obj is None else ("prefix", "user", "created_at", "last_used_at", "revoked_at")

    @admin.display(description=_("active"), boolean=True)
    def active(self, key):
        return key.is_active

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        issued, plain = ApiKey.issue(form.cleaned_data["user"], form.cleaned_data["name"])
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(issued, field.attname))
        obj._state.adding, obj._state.db = False, issued._state.db
        log.info("API key %s… (%s) created for user %s by %s via admin", issued.prefix, issued.name,
                 issued.user.get_username(), request.user.get_username())
        messages.success(request, _("The new API key is %(key)s — copy it now: it is not stored and will not be "
                                    "shown again.") % {"key": plain})

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke_keys(self, request, queryset):
        now = timezone.now()
        keys = list(queryset.filter(revoked_at__isnull=True).select_related("user"))
        ApiKey.objects.filter(pk__in=[k.pk for k in keys]).update(revoked_at=now)
        for key in keys:
            log.info("API key %s… of user %s revoked by %s via admin", key.prefix, key.user.get_username(),
                     request.user.get_username())
        self.message_user(request, ngettext("%(count)d API key revoked.", "%(count)d API keys revoked.", len(keys))
                          % {"count": len(keys)}, messages.SUCCESS)
