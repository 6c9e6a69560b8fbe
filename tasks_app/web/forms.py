"""The task form of /tasks/new and /tasks/{id}/edit. Its fields come from the field table; the rules are
TaskLoader's, called from clean() so the page shows exactly the messages the API gives."""
import zoneinfo
from functools import lru_cache

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Field, Fieldset, Layout, Row
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tasks_app.definition import fields as table
from tasks_app.definition.loader import TaskLoader, TaskValidationError, add_errors_to_form
from tasks_app.definition.tags import split_tags
from tasks_app.envedit import KeyValueField
from tasks_app.front.jsonbody import BoundedJSONDecoder
from tasks_app.models import Task
from tasks_app.secrets.values import public_env, public_notify

from . import typeform
from .layout import Collapsible
from .scripts import script_choices
from .widgets import CronWidget, FastSelect, FastSelectMultiple

# Beyond this many tasks a multiple select gets heavy; dependencies are then typed as ids.
DEPENDENCY_SELECT_LIMIT = 1000
NOTIFY_FIELDS = ("notify_on_success", "notify_on_failure", "notify_email", "notify_webhook")


@lru_cache(maxsize=1)
def timezone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class DependencyField(forms.MultipleChoiceField):
    """A multiple select of existing tasks; for very many tasks, ids separated by commas."""

    def to_python(self, value):
        if isinstance(value, str):
            value = [part.strip() for part in value.replace("\n", ",").split(",")]
        return [str(v).strip() for v in (value or []) if str(v).strip()]

    def validate(self, value):
        # Which ids exist (and cycles) is the loader's business, with its messages.
        pass


class TagsField(forms.CharField):
    """task_tags typed in one box, separated by commas or spaces; the loader checks each tag."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return split_tags(value if isinstance(value, str) else self.prepare_value(value or []))


def page_field(field):
    """The form field of a task field: label, help, default and length from the field table; the widget by its
    kind, or the page's own for the few shown their own way. None for task_notify (the notify_ fields)."""
    options = {"label": field.label, "required": field.required, "help_text": field.help}
    if field.name == "task_notify":
        return None
    if field.name == "task_desc":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), **options)
    if field.name == "task_schedule":
        return forms.CharField(max_length=field.max_length, widget=CronWidget(), **options)
    if field.name == "task_options":  # each type's options are fields of their own (typeform.py)
        return None
    if field.name in ("task_exec", "task_timezone", "task_calendar", "task_type"):  # choices set per form
        # task_exec is required only by the types that run a file: the loader's type rule says so.
        return forms.ChoiceField(widget=None if field.name in ("task_exec", "task_type") else FastSelect,
                                 **{**options, "required": False})
    if field.kind == table.INTEGER:
        return forms.IntegerField(initial=field.default, **{**options, "required": False})
    if field.kind == table.BOOLEAN and field.nullable:  # default, yes or no
        return forms.NullBooleanField(widget=forms.Select(choices=[
            ("unknown", _("Default")), ("true", _("Yes")), ("false", _("No"))]), **{**options, "required": False})
    if field.kind == table.BOOLEAN:
        return forms.BooleanField(initial=field.default, **{**options, "required": False})
    if field.kind == table.CHOICE:
        return forms.ChoiceField(choices=field.choices.choices, initial=field.default, **{**options, "required": True})
    if field.kind == table.WORD_LIST:
        return TagsField(**{**options, "required": False, "help_text": _(
            "Separated by commas or spaces, e.g. nightly, billing: lowercase letters, digits, '-' or '_'.")},
            widget=forms.TextInput(attrs={"placeholder": "nightly, billing", "autocomplete": "off"}))
    if field.kind == table.TEXT_MAP:  # rows of name and value: the table's help is about the JSON form
        return KeyValueField(**{**options, "help_text": ""})
    if field.name == "task_channels":  # the channels' names, set per form
        return DependencyField(**{**options, "help_text": _(
            "Where its alerts go; none chosen: the default channels. Hold Ctrl (⌘) to choose several.")})
    if field.kind == table.ID_LIST:
        return DependencyField(**{**options, "help_text": _(
            "The task runs when all of these have succeeded. Hold Ctrl (⌘) to choose several.")})
    if field.kind == table.OBJECT:
        return forms.JSONField(decoder=BoundedJSONDecoder, **options)  # deep nesting: an error, not a 500
    return forms.CharField(max_length=field.max_length, **options)


class BaseTaskForm(forms.Form):
    """The fields of the field table (TaskForm below adds them) plus task_notify as four fields of its own."""

    notify_on_success = forms.BooleanField(label=_("Notify on success"), required=False)
    notify_on_failure = forms.BooleanField(label=_("Notify on failure"), required=False)
    notify_email = forms.CharField(label=_("E-mail"), required=False, max_length=1000)
    notify_webhook = forms.CharField(label=_("Webhook URL"), required=False, max_length=2000, help_text=_(
        "A secret: shown as scheme and host only. Leave it as shown to keep the stored URL."))

    def __init__(self, *args, instance: Task | None = None, **kwargs):
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_from_task(instance)
        super().__init__(*args, **kwargs)
        self.fields["task_timezone"].choices = [("", _("Default (%(zone)s)") % {"zone": settings.TIME_ZONE})] + timezone_choices()
        current_exec = self.initial.get("task_exec") or (self.data.get("task_exec") if self.is_bound else "")
        self.fields["task_exec"].choices = [("", _("— choose a script —"))] + script_choices(current_exec)
        self._setup_calendars()
        self._setup_dependencies()
        self._setup_channels()
        typeform.add_fields(self)
        self.fields["task_env"].set_stored(instance.task_env if instance is not None else None)
        if instance is not None:
            self.fields["task_id"].disabled = True
            self.fields["task_id"].help_text = _("The ID cannot be changed.")
        self.helper = self._helper()

    def _setup_calendars(self):
        from tasks_app import workdays
        from tasks_app.models import Calendar

        custom = list(Calendar.objects.order_by("name").values_list("name", flat=True))
        names = custom + workdays.builtin_names()
        chosen = self.data.get("task_calendar") if self.is_bound else self.initial.get("task_calendar")
        if chosen and chosen not in names:
            names.insert(0, chosen)  # kept, so the loader's error about it makes sense
        self.fields["task_calendar"].choices = [("", _("None: every day"))] + [(n, n) for n in names]

    def _setup_dependencies(self):
        field = self.fields["task_dependencies"]
        others = Task.objects.order_by("task_id")
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        # One query: a row past the limit says that the select would be too long.
        rows = list(others.values_list("task_id", "task_name")[:DEPENDENCY_SELECT_LIMIT + 1])
        if len(rows) > DEPENDENCY_SELECT_LIMIT:
            field.widget = forms.TextInput()
            field.help_text = _("Task IDs separated by commas.")
            initial = self.initial.get("task_dependencies")
            if isinstance(initial, list):
                self.initial["task_dependencies"] = ", ".join(initial)
            return
        choices = [(tid, f"{tid} — {name}") for tid, name in rows]
        # Keep a dependency that no longer exists visible, so the loader's error about it makes sense.
        known = {c for c, _label in choices}
        chosen = self.data.getlist("task_dependencies") if self.is_bound else self.initial.get("task_dependencies", [])
        choices += [(c, c) for c in chosen or [] if c not in known]
        field.widget = FastSelectMultiple(attrs={"size": min(8, max(3, len(choices)))})
        field.choices = choices  # after the widget: the setter hands them to it

    def _setup_channels(self):
        from tasks_app.models import Channel

        field = self.fields["task_channels"]
        choices = [(name, f"{name} ({shown.get('shown', '')})" if isinstance(shown, dict) else name)
                   for name, shown in Channel.objects.order_by("name").values_list("name", "url")]
        known = {name for name, _label in choices}
        chosen = self.data.getlist("task_channels") if self.is_bound else self.initial.get("task_channels", [])
        choices += [(name, name) for name in chosen or [] if name not in known]  # the loader names what is gone
        field.widget = FastSelectMultiple(attrs={"size": min(6, max(2, len(choices)))})
        field.choices = choices

    def _helper(self):
        helper = FormHelper()
        helper.form_tag = False
        advanced = Collapsible(
            _("Advanced: timeout, retries, overlap, time zone, dependencies, notifications"),
            Row(
                Column("task_timeout", css_class="col-sm-4"),
                Column("task_retry", css_class="col-sm-4"),
                Column("task_retry_interval", css_class="col-sm-4"),
            ),
            Row(Column("task_overlap", css_class="col-md-6"), Column("task_misfire_grace", css_class="col-md-6")),
            Row(Column("task_timezone", css_class="col-md-6"), Column("task_log", css_class="col-md-6")),
            "task_dependencies",
            HTML('<h3 class="h6 mt-3">{}</h3>'.format(_("Notifications"))),
            Row(
                Column(Field("notify_on_success", wrapper_class="form-switch"), css_class="col-sm-6"),
                Column(Field("notify_on_failure", wrapper_class="form-switch"), css_class="col-sm-6"),
            ),
            Row(Column("notify_email", css_class="col-md-6"), Column("notify_webhook", css_class="col-md-6")),
            HTML('<h3 class="h6 mt-3">{}</h3>'.format(_("Alerts"))),
            Row(Column("task_channels", css_class="col-md-6"), Column("task_expected_duration", css_class="col-md-6")),
            "task_alerts",
            css_id="advanced",
        )
        helper.layout = Layout(
            Fieldset(
                _("Task"),
                Row(Column("task_id", css_class="col-md-4"), Column("task_name", css_class="col-md-8")),
                "task_desc",
                "task_tags",
                Field("task_enabled", wrapper_class="form-switch"),
            ),
            Fieldset(_("When"), "task_schedule", "task_calendar"),
            Fieldset(_("What"), "task_type", "task_exec", *typeform.layout_groups(), "task_env",
                     Field("task_allow_overrides", wrapper_class="form-switch")),
            advanced,
        )
        # A field new to the field table shows in the advanced part, before the notifications, until the page
        # gives it a place of its own.
        placed = {pointer.name for pointer in helper.layout.get_field_names()} | typeform.option_field_names()
        at = advanced.fields.index("task_dependencies") + 1
        advanced.fields[at:at] = [name for name in self.fields if name not in placed]
        return helper

    def task_data(self):
        """The form's values under the fields' names, typed as the loader expects: text stripped, an empty number
        or list at its default."""
        c = self.cleaned_data
        data = {}
        for field in table.FIELDS:
            if field.name not in self.fields:
                continue
            value = c.get(field.name)
            if field.kind in (table.ID, table.TEXT):
                value = (value or "").strip()
            elif value is None and not field.nullable and not field.required:
                value = field.fresh_default()
            elif field.kind in (table.TEXT_MAP, table.ID_LIST, table.WORD_LIST) and not value:
                value = field.fresh_default()
            data[field.name] = value
        if self.instance is not None:
            data["task_id"] = self.instance.task_id
        notify = {"on_success": bool(c.get("notify_on_success")), "on_failure": bool(c.get("notify_on_failure"))}
        for key in ("email", "webhook"):
            value = (c.get(f"notify_{key}") or "").strip()
            if value:
                notify[key] = value
        data["task_notify"] = notify
        data["task_options"] = typeform.collect(c, data.get("task_type") or "")
        return data

    def clean(self):
        cleaned = super().clean()
        # Ask the loader even when a field failed to convert, so every problem shows at once;
        # a field that already has an error keeps that one.
        try:
            self.loaded = TaskLoader().clean(
                self.task_data(), instance_id=self.instance.task_id if self.instance else None
            )
        except TaskValidationError as exc:
            self.add_loader_errors(exc)
        return cleaned

    def add_loader_errors(self, exc: TaskValidationError):
        """Put each of the loader's messages next to the field it names."""
        add_errors_to_form(self, exc, field_of=lambda field, message: form_field(field, message, self))


def form_field(field, message, form=None):
    """The form field a loader message is about: task_notify's keys and task_options' are separate fields here."""
    if field == "task_options" and form is not None:
        return typeform.error_field(form, message)
    if field == "task_notify":
        text = str(message).lower()
        if "webhook" in text or "url" in text:
            return "notify_webhook"
        if "mail" in text:
            return "notify_email"
        if "success" in text:
            return "notify_on_success"
        return "notify_on_failure"
    return field


def initial_from_task(task: Task) -> dict:
    values = {name: getattr(task, name) for name in table.TASK_FIELDS if name != "task_notify"}
    values["task_env"] = public_env(task.task_env or {})  # a secret as set, never its token
    values["task_dependencies"] = list(task.task_dependencies or [])
    values["task_channels"] = list(task.task_channels or [])
    values.pop("task_options", None)
    values.update(typeform.initial(task))
    values["task_tags"] = list(task.task_tags or [])
    # The webhook as scheme and host: posted back unchanged, it keeps the stored URL.
    notify = public_notify(task.task_notify) if isinstance(task.task_notify, dict) else {}
    return {
        **values,
        "notify_on_success": bool(notify.get("on_success")),
        "notify_on_failure": bool(notify.get("on_failure")),
        "notify_email": notify.get("email", "") or "",
        "notify_webhook": notify.get("webhook", "") or "",
    }


# The metaclass collects the fields given as class attributes: one per field of the table.
TaskForm = type(BaseTaskForm)("TaskForm", (BaseTaskForm,), {
    "__module__": __name__,
    **{field.name: form for field in table.FIELDS if (form := page_field(field)) is not None},
})
