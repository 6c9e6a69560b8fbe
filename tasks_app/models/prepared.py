"""Rows read by one SQL statement that each database connection compiles once: the API key of nearly every API
request with its user, the task of /api/tasks/<task_id>/... with its status row, the task an edit reads before
and under its lock. Django compiles a query's SQL anew at every call: about 0.3-0.4 ms of CPU each, where running
it costs a tenth of that. The statement does not change, only the value looked up; the rows are still read from
the database at each call, so a revoked or expired key and a deactivated user are refused at once, and a task is
read as it is now.

The rows become model instances the way Django's ModelIterable makes them (the same compiler, converters and
related populators): what comes back equals what the queryset's .first() gives."""
from django.db import connections, router
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError


def compiled_once(alias, key, make):
    """The statement `make()` compiles, kept on the connection under `key` (a thread's own connection, in `serve`):
    the compiler and its converters hold the connection, so they go together when a test or a thread drops it."""
    statements = connections[alias].__dict__.setdefault("prepared_statements", {})
    statement = statements.get(key)
    if statement is None:
        statement = statements[key] = make()
    return statement


class CompiledQuery:
    """A queryset's SQL, compiled once; run with other values in place of the stand-ins among its parameters
    (each must be there exactly once, so no other parameter can be mistaken for one)."""

    def __init__(self, queryset, alias, *stand_ins):
        self.alias = alias
        self.compiler = compiler = queryset.using(alias).query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        if any(self.params.count(stand_in) != 1 for stand_in in stand_ins):
            raise RuntimeError(f"cannot prepare a query of {queryset.model.__name__}: {params!r}")
        self.places = [self.params.index(stand_in) for stand_in in stand_ins]
        self.converters = compiler.get_converters([column for column, _, _ in compiler.select[:compiler.col_count]])

    def first_row(self, *values):
        """The first row for these values, converted as the ORM converts it; None if there is none."""
        params = list(self.params)
        for place, value in zip(self.places, values, strict=True):
            params[place] = value
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None or not self.converters:
            return row
        return next(self.compiler.apply_converters([row], self.converters))


class PreparedLookup:
    """`model.objects[.select_related(related)][.select_for_update()].filter(<field>=value).first()` for a unique
    `field`, compiled once per connection with `stand_in` in place of the value."""

    def __init__(self, model, field, *, stand_in, related=None, for_update=False):
        self.model, self.field, self.related, self.stand_in = model, field, related, stand_in
        self.for_update = for_update

    def __call__(self, value):
        alias = router.db_for_write(self.model) if self.for_update else router.db_for_read(self.model)
        connection = connections[alias]
        if self.for_update and connection.features.has_select_for_update and connection.get_autocommit():
            # What the ORM says of select_for_update() outside a transaction (the compiled statement would not).
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        return compiled_once(alias, self, lambda: _InstanceQuery(self._queryset(), alias, self.stand_in)).fetch(value)

    def _queryset(self):
        queryset = self.model._default_manager.all()
        if self.related:
            queryset = queryset.select_related(self.related)
        if self.for_update:
            queryset = queryset.select_for_update()
        return queryset.filter(**{self.field: self.stand_in}).order_by()


class _InstanceQuery(CompiledQuery):
    """A CompiledQuery whose row becomes a model instance with its related one, as ModelIterable makes them."""

    def __init__(self, queryset, alias, stand_in):
        super().__init__(queryset, alias, stand_in)
        if self.params != [stand_in]:  # the value must be the statement's only parameter
            raise RuntimeError(f"cannot prepare a lookup of {queryset.model.__name__}: {self.params!r}")
        klass_info, select = self.compiler.klass_info, self.compiler.select
        self.model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.own = slice(start, end)
        self.names = [column.target.attname for column, _, _ in select[start:end]]
        self.populators = get_related_populators(klass_info, select, alias)

    def fetch(self, value):
        row = self.first_row(value)  # a unique field: one row at most
        if row is None:
            return None
        instance = self.model.from_db(self.alias, self.names, row[self.own])
        for populator in self.populators:
            populator.populate(row, instance)
        return instance
