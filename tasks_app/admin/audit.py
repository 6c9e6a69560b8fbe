"""Admin for the audit trail: a read-only list for every role (as /audit), filtered by action, way in and date.
It replaces django-auditlog's own admin, which would show a task version's raw snapshot; here every value is what
any role may see (tasks_app.audit.trail.present)."""
import json

from auditlog.models import LogEntry
from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from tasks_app.audit import events, trail, versions
from tasks_app.roles import VIEWER

from .site import RoleModelAdmin

VIAS = ("web", "admin", "api", "import", "restore", "cli", "hook")


class ActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [(name, events.label(name)) for name in events.EVENTS]

    def queryset(self, request, queryset):
        return queryset.filter(additional_data__event=self.value()) if self.value() else queryset


class ViaFilter(admin.SimpleListFilter):
    title = _("via")
    parameter_name = "via"

    def lookups(self, request, model_admin):
        return [(name, name) for name in VIAS]

    def queryset(self, request, queryset):
        return queryset.filter(additional_data__via=self.value()) if self.value() else queryset


class AuditEntryAdmin(RoleModelAdmin, admin.ModelAdmin):
    # Only "view", for everyone with a role: an audit trail that could be edited would prove nothing.
    required_roles = {"view": VIEWER}
    list_display = ("timestamp", "who", "via", "action_label", "object_shown", "what_changed", "remote_addr")
    list_filter = (ActionFilter, ViaFilter)
    date_hierarchy = "timestamp"
    search_fields = ("object_repr", "object_pk", "additional_data__actor")
    list_select_related = ("content_type",)
    list_per_page = 50
    fields = ("timestamp", "who", "via", "action_label", "object_shown", "what_changed", "details", "configuration",
              "remote_addr", "cid")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-timestamp", "-pk")

    @admin.display(description=_("who"))
    def who(self, entry):
        shown = trail.present(entry)
        return f"{shown['actor']} ({_('API key')} {shown['key']})" if shown["key"] else shown["actor"]

    @admin.display(description=_("via"))
    def via(self, entry):
        return trail.present(entry)["via"]

    @admin.display(description=_("action"))
    def action_label(self, entry):
        shown = trail.present(entry)
        return f"{shown['action_label']} (v{shown['version']})" if shown["version"] else shown["action_label"]

    @admin.display(description=_("object"), ordering="object_repr")
    def object_shown(self, entry):
        return f"{entry.content_type.model} {entry.object_repr}"

    @admin.display(description=_("what changed"))
    def what_changed(self, entry):
        return render_to_string("audit/_changes.html", {"rows": trail.change_rows(trail.present(entry)["changes"])})

    @admin.display(description=_("details"))
    def details(self, entry):
        return trail.as_text(trail.present(entry)["details"]) or "—"

    @admin.display(description=_("configuration in this version"))
    def configuration(self, entry):
        if not versions.number_of(entry):
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(versions.visible_config(entry), ensure_ascii=False, indent=2))


def register(site):
    """Put this admin in place of django-auditlog's (registered before ours: it comes first in INSTALLED_APPS)."""
    if site.is_registered(LogEntry):
        site.unregister(LogEntry)
    site.register(LogEntry, AuditEntryAdmin)
