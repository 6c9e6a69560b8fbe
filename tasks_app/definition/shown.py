"""How a value appears in the loader's messages: JSON-like, cut short, or only its kind."""
import json


def show(value, limit=80):
    """A value as it appears in messages: JSON-like and cut short, so a huge input gives a readable error."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def kind_of(value):
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "text", list: "a list", dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
