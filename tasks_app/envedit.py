"""The task_env editor of the task form and the admin: rows of NAME / value, each with a lock that makes its
value a secret. A set secret shows as set (with when) and can be replaced (type a new value) or removed (the
row's ×), never shown; a locked row left empty keeps the stored secret. Works without JavaScript (plain inputs,
a checkbox per row); kv_editor.js adds and removes rows."""
import json

from django import forms
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from tasks_app.secrets.values import CHANGED_AT, SECRET, is_encrypted, is_shown_secret, public_env


class KeyValueWidget(forms.Widget):
    """Rows posted as `<name>-key` and `<name>-value` lists, and `<name>-secret`: the indexes of locked rows."""

    template_name = "tasks_app/widgets/key_value.html"

    class Media:
        js = ("tasks_app/kv_editor.js",)

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.stored = {}  # the task's task_env as shown ({"secret": true, "changed_at"} for a secret)

    def __deepcopy__(self, memo):
        copy = super().__deepcopy__(memo)
        copy.stored = dict(self.stored)
        return copy

    def value_from_datadict(self, data, files, name):
        if f"{name}-key" not in data and name in data:
            return data.get(name)  # a JSON object posted whole, as a script may send it

        def values(key):
            return list(data.getlist(key) if hasattr(data, "getlist") else data.get(key, []))

        keys, texts = values(f"{name}-key"), values(f"{name}-value")
        texts += [""] * (len(keys) - len(texts))
        locked = {str(index) for index in values(f"{name}-secret")}
        return [(key, text, str(index) in locked) for index, (key, text) in enumerate(zip(keys, texts))]

    def value_omitted_from_data(self, data, files, name):
        return f"{name}-key" not in data and name not in data

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if isinstance(value, str):  # a JSON object posted whole: shown again only as far as it is not secret
            try:
                value = json.loads(value)
            except ValueError:
                value = {}
            value = value if isinstance(value, dict) else {}
        if isinstance(value, dict):
            # Any object is a secret in one of its forms (set, to set, sealed): its row is locked and empty.
            items = [(key, shown, isinstance(shown, dict)) for key, shown in public_env(value).items()]
        else:
            items = [row for row in (value or []) if row[0] or row[1] or row[2]]
        rows = []
        for key, text, secret in items:
            stored = self.stored.get(key)
            changed = parse_datetime(stored.get(CHANGED_AT) or "") if is_shown_secret(stored) else None
            # A secret's value never goes back to the browser, not even the one just typed.
            rows.append({"key": str(key), "value": "" if secret else ("" if text is None else str(text)),
                         "secret": secret, "set": secret and is_shown_secret(stored), "changed_at": changed})
        context["widget"]["rows"] = rows or [{"key": "", "value": "", "secret": False, "set": False}]
        context["widget"]["invalid"] = "is-invalid" in (attrs or {}).get("class", "")
        return context


class KeyValueField(forms.Field):
    """task_env as rows: gives the loader a dict of text values and secrets ({"secret": "value"} for one typed,
    {"secret": true} to keep the stored one)."""

    widget = KeyValueWidget

    def __init__(self, *args, stored=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_stored(stored)

    def set_stored(self, stored):
        """The task's stored task_env, so the rows of its secrets show when they were set."""
        self.widget.stored = public_env(stored) if isinstance(stored, dict) else {}

    def prepare_value(self, value):
        if isinstance(value, dict):  # initial: never a stored token, only what anyone may see
            return {key: (item if not is_encrypted(item) else public_env({key: item})[key]) for key, item in
                    value.items()}
        return value

    def to_python(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                raise forms.ValidationError(_("Enter a valid JSON.")) from None
        if isinstance(value, dict):
            return value
        if not isinstance(value, list):
            return value  # the loader says what is wrong with it
        result, errors = {}, []
        for row in value or []:
            key, text, secret = (list(row) + [False])[:3]
            key, text = (key or "").strip(), text or ""
            if not key and not text and not secret:
                continue
            if not key and secret:
                errors.append(_("A secret row has a value but no name."))  # the value is not shown
            elif not key:
                errors.append(_("A row has the value %(value)r but no name.") % {"value": text})
            elif key in result:
                errors.append(_("The name %(key)r appears twice.") % {"key": key})
            elif secret:
                result[key] = {SECRET: text} if text else {SECRET: True}
            else:
                result[key] = text
        if errors:
            raise forms.ValidationError(errors)
        return result

    def validate(self, value):
        pass
