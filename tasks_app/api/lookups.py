"""The two rows nearly every API request reads (its API key with the user; the task of /api/tasks/<task_id>/...),
each by one SQL statement that each database connection compiles once. Django compiles a query's SQL anew at
every call: about 0.3-0.4 ms of CPU each, as much as the rest of authentication costs. The statement does not
change, only the value looked up; the rows are still read from the database at each request, so a revoked or
expired key and a deactivated user are refused at once, and a task is read as it is now.

The rows become model instances the way Django's ModelIterable makes them (the same compiler, converters and
related populators): what comes back equals what the queryset's .first() gives."""
from django.db import connections, router
from django.db.models.query import get_related_populators

from tasks_app.models import ApiKey, Task


class PreparedLookup:
    """`model.objects.select_related(related).filter(<field>=value).first()` for a unique `field`, compiled once
    per connection with `stand_in` in place of the value."""

    def __init__(self, model, field, *, related, stand_in):
        self.model, self.field, self.related, self.stand_in = model, field, related, stand_in

    def __call__(self, value):
        alias = router.db_for_read(self.model)
        # Kept on the connection (a thread's own, in `serve`), as the compiler and its converters hold it: they go
        # together when a test or a thread drops it.
        statements = connections[alias].__dict__.setdefault("prepared_api_lookups", {})
        statement = statements.get(self)
        if statement is None:
            queryset = self.model._default_manager.select_related(self.related)
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


key_with_user = PreparedLookup(ApiKey, "key_hash", related="user", stand_in="0" * 64)
task_with_status = PreparedLookup(Task, "task_id", related="status", stand_in="-")
