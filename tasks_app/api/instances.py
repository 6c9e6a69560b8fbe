"""Model instances for a page of the task list, made for a fraction of what Django's ModelIterable spends on them.

A list of 50 tasks turned 100 rows (a task and its status row each) into instances through Model.__init__ (the
init signals, a setattr per field through the descriptors) and decoded 8 JSON columns a task through
json.loads, most of them "{}" or "[]". Here the same compiler, the same converters and the same attribute names
make the same instances (equal values, `_state` alike, the status row cached on its task both ways):

- an instance is filled the way Model.__init__ fills it from a full row, without calling it. That holds only
  while nobody listens to the init signals of the models involved and every column is selected; otherwise
  Django's own iterable runs.
- a JSON column holding "{}" or "[]" becomes a new empty dict or list, which is what json.loads gives; any
  other text is decoded by the field as before.

The list's serializer is unchanged: redaction and the status block stay where they are."""
from django.db.models import JSONField, signals
from django.db.models.base import ModelState
from django.db.models.query import ModelIterable, get_related_populators

_EMPTY = {"{}": dict, "[]": list}


def quick(queryset):
    """`queryset`, its instances made by QuickModelIterable."""
    clone = queryset.all()
    clone._iterable_class = QuickModelIterable
    return clone


class QuickModelIterable(ModelIterable):
    """ModelIterable's rows for a queryset of full rows with select_related, without annotations."""

    def __iter__(self):
        queryset = self.queryset
        if not _plain(queryset):
            yield from super().__iter__()
            return
        db = queryset.db
        compiler = queryset.query.get_compiler(using=db)
        results = compiler.execute_sql(chunked_fetch=self.chunked_fetch, chunk_size=self.chunk_size)
        klass_info, select = compiler.klass_info, compiler.select
        populators = get_related_populators(klass_info, select, db)
        if any(p.related_populators or p.reorder_for_init for p in populators) or not all(
                _full(p.model_cls, p.init_list) and not _listened(p.model_cls) for p in populators):
            yield from _django_rows(compiler, results, klass_info, select, populators, db)
            return
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        model = klass_info["model"]
        names = [column.target.attname for column, _, _ in select[start:end]]
        if not _full(model, names):
            yield from _django_rows(compiler, results, klass_info, select, populators, db)
            return
        for row in _rows(compiler, results):
            task = _instance(model, db, names, row[start:end])
            for populator in populators:
                values = row[populator.cols_start:populator.cols_end]
                related = None
                if values[populator.pk_idx] is not None:
                    related = _instance(populator.model_cls, db, populator.init_list, values)
                populator.local_setter(task, related)
                if related is not None:
                    populator.remote_setter(related, task)
            yield task


def _plain(queryset):
    query = queryset.query
    return not (query.annotation_select or query.deferred_loading[0] or not query.deferred_loading[1]
                or queryset._known_related_objects or _listened(queryset.model))


def _listened(model):
    return signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model)


def _full(model, names):
    return len(names) == len(model._meta.concrete_fields)


def _instance(model, db, names, values):
    """Model.from_db(db, names, values) for a full row: Model.__init__ sets `_state` then each field's attname
    (no descriptor of these attnames does more than store it on a new instance)."""
    instance = model.__new__(model)
    state = instance._state = ModelState()
    instance.__dict__.update(zip(names, values))
    state.adding = False
    state.db = db
    return instance


def _rows(compiler, results):
    """compiler.results_iter(results), with the JSON fields' "{}" and "[]" made without json.loads."""
    converters = compiler.get_converters([column for column, _, _ in compiler.select[:compiler.col_count]])
    for position, (functions, expression) in converters.items():
        converters[position] = ([_quick_json(f) for f in functions], expression)
    rows = (row for chunk in results for row in chunk)
    return compiler.apply_converters(rows, converters) if converters else map(list, rows)


def _quick_json(function):
    field = getattr(function, "__self__", None)
    if not (isinstance(field, JSONField) and function.__func__ is JSONField.from_db_value and field.decoder is None):
        return function

    def from_db_value(value, expression, connection):
        empty = _EMPTY.get(value) if type(value) is str else None
        return empty() if empty is not None else function(value, expression, connection)
    return from_db_value


def _django_rows(compiler, results, klass_info, select, populators, db):
    """What ModelIterable does with the rows (without known related objects or annotations, see _plain)."""
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    names = [column.target.attname for column, _, _ in select[start:end]]
    for row in compiler.results_iter(results):
        instance = klass_info["model"].from_db(db, names, row[start:end])
        for populator in populators:
            populator.populate(row, instance)
        yield instance
