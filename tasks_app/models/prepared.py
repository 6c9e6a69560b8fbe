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
        # Kept on the connection (a thread's own, in `serve`), as the compiler and its converters hold it: they go
        # together when a test or a thread drops it.
        statements = connection.__dict__.setdefault("prepared_lookups", {})
        statement = statements.get(self)
        if statement is None:
            queryset = self.model._default_manager.all()
            if self.related:
                queryset = queryset.select_related(self.related)
            if self.for_update:
                queryset = queryset.select_for_update()
            statement = statements[self] = _Statement(queryset, self.field, self.stand_in, alias)
        return statement.fetch(value)


class _Statement:
    def __init__(self, queryset, field, stand_in, alias):
        self.alias = alias
        compiler = queryset.using(alias).filter(**{field: stand_in}).order_by().query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()
        if tuple(params) != (stand_in,):  # the value must be the statement's only parameter
            raise RuntimeError(f"cannot prepare a lookup of {queryset.model.__name__} by {field}: {params!r}")
        self.compiler = compiler
        self.converters = compiler.get_converters([column for column, _, _ in compiler.select[:compiler.col_count]])
        klass_info = compiler.klass_info
        self.model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.own = slice(start, end)
        self.names = [column.target.attname for column, _, _ in compiler.select[start:end]]
        self.populators = get_related_populators(klass_info, compiler.select, alias)

    def fetch(self, value):
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, [value])
            row = cursor.fetchone()  # a unique field: one row at most
        if row is None:
            return None
        if self.converters:
            row = next(self.compiler.apply_converters([row], self.converters))
        instance = self.model.from_db(self.alias, self.names, row[self.own])
        for populator in self.populators:
            populator.populate(row, instance)
        return instance
