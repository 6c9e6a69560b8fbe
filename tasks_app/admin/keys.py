"""Admin for API keys (admin role only): adding one shows the plain key once (only its hash is stored); keys
are revoked, not edited. An admin-role user sees, creates and revokes only their own keys; a superuser anyone's
(the rule of tasks_app.services.apikeys)."""
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tasks_app.models import ApiKey
from tasks_app.roles import ADMIN
from tasks_app.services import apikeys

from .site import RoleModelAdmin


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("user", "name", "expires_at")
        help_texts = {"name": _("A label to tell keys apart, e.g. 'backup script'."),
                      "expires_at": _("Leave empty for a key that does not expire.")}

    def clean_expires_at(self):
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(_("expires_at %(value)s has already passed: choose a time to come.")
                                        % {"value": value.isoformat()})
        return value


@admin.register(ApiKey)
class ApiKeyAdmin(RoleModelAdmin, admin.ModelAdmin):
    required_roles = {"view": ADMIN, "add": ADMIN, "change": ADMIN, "delete": ADMIN}
    list_display = ("prefix", "user", "name", "created_at", "expires_at", "last_used_at", "revoked_at", "active")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    actions = ("revoke_keys",)

    def get_queryset(self, request):
        keys = super().get_queryset(request)
        return keys if request.user.is_superuser else keys.filter(user=request.user)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        form = super().get_form(request, obj, **kwargs)
        if obj is None and not request.user.is_superuser:
            # Only a superuser may choose someone else; the choice is checked again by issue_key.
            field = form.base_fields["user"]
            field.queryset = get_user_model().objects.filter(pk=request.user.pk)
            field.initial = request.user.pk
            field.help_text = _("Your own keys only: a superuser creates keys for others.")
        return form

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "name", "expires_at")
        return ("prefix", "user", "name", "created_at", "expires_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        # Only the label can change; a key's owner, secret or lifetime never does (issue a new key instead).
        return () if obj is None else ("prefix", "user", "created_at", "expires_at", "last_used_at", "revoked_at")

    @admin.display(description=_("active"), boolean=True)
    def active(self, key):
        return key.is_active

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        issued, plain = apikeys.issue_key(form.cleaned_data["user"], name=form.cleaned_data["name"],
                                          expires_at=form.cleaned_data.get("expires_at"), actor=request.user,
                                          via="admin")
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(issued, field.attname))
        obj._state.adding, obj._state.db = False, issued._state.db
        messages.success(request, _("The new API key is %(key)s — copy it now: it is not stored and will not be "
                                    "shown again.") % {"key": plain})

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke_keys(self, request, queryset):
        try:
            keys = apikeys.revoke_keys(queryset.select_related("user"), actor=request.user, via="admin")
        except PermissionDenied as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, ngettext("%(count)d API key revoked.", "%(count)d API keys revoked.", len(keys))
                          % {"count": len(keys)}, messages.SUCCESS)
