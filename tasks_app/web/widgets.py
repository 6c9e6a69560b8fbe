"""Form widgets of the task form: the cron field with its template picker and live preview (it works without
JavaScript, a plain input; the script only adds comfort), and selects rendered fast. The task_env editor, shared
with the admin, is tasks_app/envedit.py."""
from django import forms
from django.forms.utils import flatatt
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

# The picker's templates: (key, label, pattern). {m} {h} {dow} {dom} are filled from the picker's inputs.
CRON_TEMPLATES = [
    ("minute", _("Every minute"), "* * * * *"),
    ("5min", _("Every 5 minutes"), "*/5 * * * *"),
    ("hourly", _("Every hour"), "0 * * * *"),
    ("daily", _("Every day at…"), "{m} {h} * * *"),
    ("weekdays", _("Weekdays (Mon–Fri) at…"), "{m} {h} * * 1-5"),
    ("weekly", _("Every week on…"), "{m} {h} * * {dow}"),
    ("monthly", _("Every month on day…"), "{m} {h} {dom} * *"),
]

WEEKDAYS = [
    (1, _("Monday")), (2, _("Tuesday")), (3, _("Wednesday")), (4, _("Thursday")),
    (5, _("Friday")), (6, _("Saturday")), (0, _("Sunday")),
]


class CronWidget(forms.TextInput):
    """A cron text input, a picker of common schedules, and a preview box the script keeps up to date."""

    template_name = "tasks_app/widgets/cron.html"

    def __init__(self, attrs=None, timezone_field="task_timezone"):
        base = {"class": "form-control font-monospace", "autocomplete": "off", "spellcheck": "false"}
        super().__init__({**base, **(attrs or {})})
        self.timezone_field = timezone_field

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"].update(
            templates=CRON_TEMPLATES,
            weekdays=WEEKDAYS,
            days=range(1, 29),
            preview_url=reverse("cron_preview"),
            timezone_field=self.timezone_field,
        )
        return context


class FastSelect(forms.Select):
    """A select rendered in Python: hundreds of options (time zones, tasks) through Django's per-option
    templates take most of half a second; this takes a few milliseconds."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = {str(v) for v in (value if isinstance(value, (list, tuple)) else [value]) if v is not None}
        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        if self.allow_multiple_selected:
            final["multiple"] = True
        options = format_html_join(
            "", '<option value="{}"{}>{}</option>',
            ((v, " selected" if str(v) in chosen else "", label) for v, label in self.choices),
        )
        return format_html("<select{}>{}</select>", flatatt(final), options)


class FastSelectMultiple(FastSelect):
    allow_multiple_selected = True

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)

    def value_omitted_from_data(self, data, files, name):
        return False  # an unselected multiple select is not posted at all
