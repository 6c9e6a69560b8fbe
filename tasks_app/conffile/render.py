"""conf/tasks.json's shape: a task as the file writes it, and the key order a person gave its mappings.

Which fields the file holds, and whether always or only when not at their default, is the field table's in_file
(definition/fields.py): the original thirteen always, the additions only when set, so a file written by hand
round-trips unchanged.
"""
from tasks_app.definition.fields import ALWAYS, FIELDS, OBJECT, TEXT_MAP, UNLESS_DEFAULT

# Mappings whose key order a person chose; PostgreSQL's jsonb does not keep it, so it is carried over.
ORDERED_MAPPINGS = tuple(f.name for f in FIELDS if f.kind in (TEXT_MAP, OBJECT))


def render_task(data: dict, key_order: dict | None = None) -> dict:
    """A task as it appears in tasks.json. `key_order` ({"task_env": [keys], ...}) restores the key order a
    person wrote, which a PostgreSQL jsonb column does not keep; keys it does not know follow in their order."""
    entry = {}
    for field in FIELDS:
        if field.in_file == ALWAYS:
            entry[field.name] = data.get(field.name)
        elif field.in_file == UNLESS_DEFAULT and data.get(field.name, field.default) != field.default:
            entry[field.name] = data[field.name]
    for name in ORDERED_MAPPINGS:
        value = entry.get(name)
        hint = (key_order or {}).get(name)
        if isinstance(value, dict) and hint:
            first = [k for k in hint if k in value]
            entry[name] = {k: value[k] for k in first + [k for k in value if k not in first]}
    return entry


def render_tasks_document(tasks, key_orders: dict | None = None, calendars=()) -> dict:
    """{"tasks": [...]} from domain.Task objects or task dicts; key_orders maps task_id -> key_order. The custom
    calendars the tasks may name (their file entries, Calendar.file_entry) follow as "calendars", by name, when
    there are any: a file without them stays as it was."""
    dicts = [t.to_dict() if hasattr(t, "to_dict") else t for t in tasks]
    dicts.sort(key=lambda d: d["task_id"])
    document = {"tasks": [render_task(d, (key_orders or {}).get(d["task_id"])) for d in dicts]}
    if calendars:
        document["calendars"] = sorted(calendars, key=lambda c: str(c.get("name")) if isinstance(c, dict) else "")
    return document


def key_orders_of(items) -> dict:
    """task_id -> {"task_env": [keys], "task_notify": [keys]} from task dicts (e.g. a file's content)."""
    orders = {}
    for item in items or ():
        if isinstance(item, dict) and isinstance(item.get("task_id"), str):
            orders[item["task_id"]] = {
                name: list(item[name]) for name in ORDERED_MAPPINGS if isinstance(item.get(name), dict)
            }
    return orders
