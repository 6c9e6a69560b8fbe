"""The Django admin (Django's autodiscover imports this package): tasks, executions, API keys and the audit trail,
each in its module, behind the roles (site.py); the other apps' models are left to superusers."""
import django.contrib.auth.admin  # noqa: F401  (registers users and groups before follow_roles guards them)
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import audit, calendars, channels, hooks, keys, pauses, runs, tasks  # noqa: F401  (importing them registers the admins)
from .site import follow_roles

admin.site.site_header = _("Task scheduling engine")
admin.site.site_title = _("Task scheduling engine")
admin.site.index_title = _("Administration")
audit.register(admin.site)
follow_roles(admin.site, "tasks_app")
