"""Template helpers shared by every page: one status badge, local times with their offset, "in 3 min"."""
from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

from tasks_app import roles
from tasks_app.audit.trail import as_text
from tasks_app.web import status as statuses

register = template.Library()


@register.simple_tag
def status_badge(status):
    """The badge for a task state (running/idle/disabled) or an execution status."""
    if not status:
        return format_html('<span class="text-body-secondary">{}</span>', _("never"))
    style = statuses.style(status)
    text = "text-dark border" if style == "light" else ""
    return format_html(
        '<span class="badge text-bg-{} {} status-badge" data-status="{}">{}</span>', style, text, status,
        statuses.word(status),
    )


@register.filter
def status_word(status):
    return statuses.word(status)


@register.filter
def when(value, zone=None):
    """`2025-01-02 10:30:45 +08:00` in the configured zone (or `zone`), as a <time> element."""
    if not value:
        return mark_safe('<span class="text-body-secondary">—</span>')
    local = timezone.localtime(value, _zone(zone)) if zone else timezone.localtime(value)
    return format_html(
        '<time datetime="{}" class="text-nowrap">{} <small class="text-body-secondary">{}</small></time>',
        value.isoformat(), local.strftime("%Y-%m-%d %H:%M:%S"), _offset(local),
    )


def _offset(moment):
    raw = moment.strftime("%z")
    return f"{raw[:3]}:{raw[3:]}" if raw else ""


@register.simple_tag
def zone_offset():
    """The configured zone's offset from UTC right now, as +08:00."""
    return _offset(timezone.localtime())


def _zone(name):
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_current_timezone()


@register.filter
def relative(value):
    """"in 3 minutes" or "3 minutes ago", relative to now."""
    if not value:
        return ""
    now = timezone.now()
    if value >= now:
        if value - now < timedelta(seconds=60):
            return _("in less than a minute")
        return _("in %(time)s") % {"time": timeuntil(value, now, depth=1)}
    if now - value < timedelta(seconds=60):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(value, now, depth=1)}


@register.filter
def seconds(value):
    """A duration in seconds as 0.42 s, 12.3 s, 4 min 5 s or 2 h 3 min."""
    if value is None or value == "":
        return "—"
    value = float(value)
    if value < 10:
        return _("%(n)s s") % {"n": number_format(value, 2)}
    if value < 60:
        return _("%(n)s s") % {"n": number_format(value, 1)}
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        if not secs:
            return _("%(m)d min") % {"m": minutes}
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": secs}
    hours, minutes = divmod(minutes, 60)
    if not minutes:
        return _("%(h)d h") % {"h": hours}
    return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}


@register.filter
def span_seconds(start, end):
    if not start or not end:
        return None
    return (end - start).total_seconds()


@register.filter
def plain(value):
    """A configuration value as text: text as it is, a dash for nothing, anything else as JSON."""
    text = as_text(value)
    return "—" if text is None or text == "" else text


@register.filter
def can(user, role):
    """{% if user|can:"operator" %}: whether the user's role allows an action."""
    return roles.has_role(user, role)


@register.filter
def role_name(user):
    names = {roles.VIEWER: _("viewer"), roles.OPERATOR: _("operator"), roles.ADMIN: _("admin")}
    return names.get(roles.role_of(user), _("no role"))


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    """The current query string with some parameters replaced (for pagination and filter links)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def percent(value):
    """0.973 -> "97.3%" (a share of the dashboard; a change of -0.25 -> "-25.0%")."""
    if value is None:
        return ""
    return f"{value * 100:.1f}%"
