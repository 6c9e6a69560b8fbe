"""Column values as the database driver takes them, for batchwrites.py's hand-written INSERT and UPDATE: what
Field.get_db_prep_save returns, by a converter chosen once per field and batch. Going through get_db_prep_save
for each of a row's 25 columns was a fifth of claiming a burst on the engine thread."""
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.db import models

# Fields whose get_db_prep_save hands a value of these exact types back unchanged (None too), on every backend.
_PASSED = {
    models.CharField: (str,), models.TextField: (str,), models.BooleanField: (bool,),
    models.IntegerField: (int,), models.PositiveIntegerField: (int,), models.BigIntegerField: (int,),
    models.SmallIntegerField: (int,), models.PositiveSmallIntegerField: (int,), models.FloatField: (float,),
    models.AutoField: (int,), models.BigAutoField: (int,),
}


def converters(fields, connection) -> list:
    """One function per field, for one batch: value -> get_db_prep_save(value, connection)."""
    return [_converter(field, kind(field), connection) for field in fields]


@lru_cache(maxsize=None)
def kind(field) -> tuple:
    """How a field's values are converted: ("plain", the types passed as they are), ("instant", None) for a
    datetime, or ("orm", None)."""
    target = field.target_field if type(field) is models.ForeignKey else field
    if type(target) in _PASSED:
        return "plain", _PASSED[type(target)]
    if type(field) is models.DateTimeField:
        return "instant", None
    return "orm", None


def _converter(field, kind, connection):
    prep = field.get_db_prep_save
    how, passed = kind
    if how == "plain":
        return lambda value: value if value is None or type(value) in passed else prep(value, connection)
    if how == "orm":
        return lambda value: prep(value, connection)
    # A burst's rows share a few instants (the slot, the claim's moment): each converted once per batch.
    seen = {}
    zone = connection.timezone if connection.vendor == "sqlite" and settings.USE_TZ else None

    def instant(value):
        if value is None:
            return None
        try:
            return seen[value]
        except KeyError:
            if zone is not None and type(value) is datetime and value.tzinfo is not None:
                # What SQLite's adapt_datetimefield_value makes of an aware datetime (make_naive in the
                # connection's zone, then str), without the field's checks for what this is not.
                converted = seen[value] = str(value.astimezone(zone).replace(tzinfo=None))
            else:
                converted = seen[value] = prep(value, connection)
            return converted
        except TypeError:  # not hashable: an expression
            return prep(value, connection)
    return instant


def readers(fields) -> list:
    """One function per field: instance -> field.pre_save(instance, add=True), the attribute itself where the
    field's pre_save only reads it (auto_now and auto_now_add fields, and other fields' own pre_save, keep it)."""
    return [_reader(field) for field in fields]


@lru_cache(maxsize=None)
def _reader(field):
    from operator import attrgetter

    plain = type(field).pre_save is models.Field.pre_save or (
        type(field) is models.DateTimeField and not (field.auto_now or field.auto_now_add))
    return attrgetter(field.attname) if plain else lambda obj: field.pre_save(obj, True)
