"""The task form's part for task types: a select of the installed types, and each type's options as form fields
of their own (named opt_<type>__<option>), in a group the page shows only while that type is chosen. What the
loader says about an option ("task_options.url: ...") goes next to its field."""
import json
import re

from crispy_forms.layout import Div, Field
from django import forms
from django.utils.translation import gettext_lazy as _

from tasks_app import tasktypes
from tasks_app.tasktypes import base as kinds

PREFIX = "opt_"


def field_name(type_name: str, option: str) -> str:
    return f"{PREFIX}{type_name}__{option}"


class IntListField(forms.CharField):
    """Integers separated by commas or spaces ("200, 204"), as a list; the type's own check says what is wrong
    with the numbers."""

    def to_python(self, value):
        text = super().to_python(value) or ""
        parts = [part for part in re.split(r"[\s,]+", text) if part]
        try:
            return [int(part) for part in parts]
        except ValueError:
            raise forms.ValidationError(_("Give whole numbers separated by commas, such as 200, 204.")) from None


def _form_field(option):
    common = {"label": option.label or option.name, "required": False, "help_text": option.help}
    if option.kind == kinds.TEXTAREA:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=False, **common)
    if option.kind == kinds.INTEGER:
        return forms.IntegerField(**common)
    if option.kind == kinds.BOOLEAN:
        return forms.BooleanField(initial=option.default, **common)
    if option.kind == kinds.CHOICE:
        return forms.ChoiceField(choices=[(c, c) for c in option.choices], initial=option.default, **common)
    if option.kind == kinds.TEXT_MAP:
        return forms.JSONField(**{**common, "help_text": option.help or _('JSON object, e.g. {"Name": "value"}')})
    if option.kind == kinds.INT_LIST:
        return IntListField(**common)
    return forms.CharField(max_length=option.max_length, **common)


def add_fields(form):
    """Adds the type select's choices and every option field of every installed type to `form`."""
    types = tasktypes.installed()
    select = form.fields["task_type"]
    select.choices = [(name, f"{name} — {kind.label}" if kind.label else name) for name, kind in types.items()]
    select.widget.attrs["data-runs-file"] = json.dumps({name: kind.runs_file for name, kind in types.items()})
    for kind in types.values():
        for option in kind.options:
            form.fields[field_name(kind.name, option.name)] = _form_field(option)


def layout_groups() -> list:
    """One group of fields per type that has options, for the form's layout."""
    groups = []
    for kind in tasktypes.installed().values():
        if kind.options:
            names = [Field(field_name(kind.name, option.name), wrapper_class="form-switch")
                     if option.kind == kinds.BOOLEAN else field_name(kind.name, option.name)
                     for option in kind.options]
            groups.append(Div(*names, css_class="type-options border rounded p-2 mb-3", data_task_type=kind.name))
    return groups


def option_field_names() -> set:
    return {field_name(kind.name, option.name) for kind in tasktypes.installed().values() for option in kind.options}


def collect(cleaned, type_name) -> dict:
    """task_options from the chosen type's fields: the empty ones left out (the type fills its defaults)."""
    try:
        kind = tasktypes.get_type(type_name)
    except tasktypes.UnknownType:
        return {}
    options = {}
    for option in kind.options:
        value = cleaned.get(field_name(kind.name, option.name))
        if value in (None, "", [], {}) and option.kind != kinds.BOOLEAN:
            continue
        options[option.name] = bool(value) if option.kind == kinds.BOOLEAN else value
    return options


def initial(task) -> dict:
    """The option fields' initial values for a task being edited."""
    values = {}
    for name, value in (task.task_options or {}).items():
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        values[field_name(task.task_type or tasktypes.DEFAULT, name)] = value
    return values


def error_field(form, message) -> str:
    """The form field a loader message under task_options is about."""
    match = re.match(r"task_options\.([A-Za-z0-9_]+):", str(message))
    type_name = form.data.get("task_type") if form.is_bound else getattr(form.instance, "task_type", "")
    if match:
        name = field_name(type_name or tasktypes.DEFAULT, match.group(1))
        if name in form.fields:
            return name
    return "task_type"
