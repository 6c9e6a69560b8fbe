"""How a value appears in the loader's messages: JSON-like, cut short, or only its kind."""
import json


def show(value, limit=80):
    """A value as it appears in messages: JSON-like and cut short, so a huge input gives a readable error."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


KINDS = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "text"), (list, "a list"),
         (dict, "an object"))  # bool before int: True is an int too


def kind_of(value):
    # isinstance, not type(): the admin's JSON fields give str subclasses (Django's JSONString) for "x".
    if value is None:
        return "null"
    return next((name for kind, name in KINDS if isinstance(value, kind)), type(value).__name__)
