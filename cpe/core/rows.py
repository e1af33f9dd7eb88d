"""Read one model instance by primary key with SQL built once per process (PostgreSQL).

For the reads that run on every request (the signed-in user): Django compiles a queryset into
SQL on every call, and for a one-row read by primary key that compilation costs several times
the round trip. Here the statement is built once from the model's own field list (a new column
is read too) and each value goes through the field's own database converters (an encrypted
field decrypts as it does through the ORM), so the instance is the one `Model.objects.get`
would give. Other databases (SQLite, the embedded default) use the ORM."""

from django.db import connections


class PkReader:
    def __init__(self, model, using: str = "default"):
        self.model, self.using = model, using
        self._prepared = None

    def _prepare(self, connection):
        fields = list(self.model._meta.concrete_fields)
        qn = connection.ops.quote_name
        sql = (
            f"SELECT {', '.join(qn(f.column) for f in fields)} FROM {qn(self.model._meta.db_table)} "
            f"WHERE {qn(self.model._meta.pk.column)} = %s"
        )
        converters = [(i, f.get_db_converters(connection)) for i, f in enumerate(fields)]
        return sql, [f.attname for f in fields], [(i, c) for i, c in converters if c]

    def get(self, pk):
        """The instance with this primary key, or None."""
        connection = connections[self.using]
        if connection.vendor != "postgresql":
            return self.model._default_manager.using(self.using).filter(pk=pk).first()
        if self._prepared is None:
            self._prepared = self._prepare(connection)
        sql, attnames, converters = self._prepared
        with connection.cursor() as cursor:
            cursor.execute(sql, [pk])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for i, funcs in converters:
            for convert in funcs:
                values[i] = convert(values[i], None, connection)
        return self.model.from_db(self.using, attnames, values)
