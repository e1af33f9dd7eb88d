"""Read one model instance by primary key with SQL built once per process (PostgreSQL).

For the reads that run on every request (the signed-in user): Django compiles a queryset into
SQL on every call, and for a one-row read by primary key that compilation costs several times
the round trip. Here the statement is built once from the model's own field list (a new column
is read too) and each value goes through the field's own database converters, so the instance
is the one `Model.objects.get` would give; an encrypted column is decrypted when its attribute is
first read (cpe.core.fields.Sealed) rather than when the row is read. Other databases (SQLite,
the embedded default) use the ORM."""

import copy
import hashlib
import json
import weakref
from datetime import date, datetime
from datetime import timezone as dt_timezone

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.expressions import ColPairs
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query import FlatValuesListIterable, ModelIterable, ValuesIterable, ValuesListIterable
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

from .fields import EncryptedTextField, Sealed, SealedAttribute

# What Model.__init__'s setattr runs for a field: a plain store into __dict__ (a foreign key's
# attribute also drops a cached related object whose key differs: a new instance has none).
_PLAIN_SETTERS = (DeferredAttribute, SealedAttribute, ForeignKeyDeferredAttribute)


def _fills_dict(model, attnames) -> bool:
    """Whether `Model.from_db(db, attnames, values)` for every concrete field only fills the
    instance's __dict__ and _state (no receiver asked: pre_init/post_init are checked per call)."""
    fields = model._meta.concrete_fields
    return (
        model.__init__ is Model.__init__
        and model.__new__ is Model.__new__
        and model.__setattr__ is Model.__setattr__
        and model.from_db.__func__ is Model.from_db.__func__
        and list(attnames) == [f.attname for f in fields]
        and all(type(getattr(model, f.attname, None)) in _PLAIN_SETTERS for f in fields)
    )


def _filled(model, db, attnames, values):
    """The instance `Model.from_db(db, attnames, values)` gives, for a model `_fills_dict`
    accepted and no init receiver: its __dict__ and _state filled directly."""
    obj = model.__new__(model)
    obj._state = state = ModelState()
    state.adding, state.db = False, db
    obj.__dict__.update(zip(attnames, values, strict=True))
    return obj


class _Node:
    """How one model of a row becomes an instance: the root (the queryset's model) or a
    select_related one, mirroring django.db.models.query.ModelIterable and RelatedPopulator."""

    __slots__ = (
        "model",
        "start",
        "end",
        "attnames",
        "plain",
        "pk_idx",
        "children",
        "local",
        "remote",
        "at",
        "nodes",
    )

    def __init__(self, klass_info, select, nodes=None):
        # nodes: every node of the tree, in order; `at` is this one's place (FixedQuery._run asks
        # once per call which models have init receivers).
        nodes = [] if nodes is None else nodes
        self.at = len(nodes)
        nodes.append(self)
        fields = klass_info["select_fields"]
        self.model = klass_info["model"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.attnames = [f[0].target.attname for f in select[self.start : self.end]]
        self.plain = _fills_dict(self.model, self.attnames)
        self.pk_idx = self.attnames.index(self.model._meta.pk_fields[0].attname)
        self.children = [_Node(k, select, nodes) for k in klass_info.get("related_klass_infos", [])]
        self.nodes = nodes if self.at == 0 else None
        self.local = klass_info.get("local_setter")
        self.remote = klass_info.get("remote_setter")

    @staticmethod
    def supported(klass_info, select) -> bool:
        """Contiguous columns of the model's own (not a parent's, multi-table inheritance),
        every one a column of a field, at every level."""
        fields = klass_info["select_fields"]
        if not fields or fields != list(range(fields[0], fields[-1] + 1)):
            return False
        if any(not hasattr(select[i][0], "target") for i in fields):
            return False
        pk = klass_info["model"]._meta.pk_fields[0].attname
        if pk not in [select[i][0].target.attname for i in fields]:
            return False
        return all(
            not k["from_parent"] and _Node.supported(k, select)
            for k in klass_info.get("related_klass_infos", [])
        )

    def quick(self) -> list[bool]:
        """Per node of the tree (the root's): whether its instances can be made by filling
        __dict__ now (no pre_init/post_init receiver connected since)."""
        return [
            n.plain and not pre_init.has_listeners(n.model) and not post_init.has_listeners(n.model)
            for n in self.nodes
        ]

    def build(self, db, values, quick):
        model = self.model
        if quick[self.at]:
            return _filled(model, db, self.attnames, values)
        return model.from_db(db, self.attnames, values)

    def populate(self, db, row, from_obj, quick):
        """RelatedPopulator.populate: the related instance, or None, cached on from_obj."""
        values = row[self.start : self.end]
        if values[self.pk_idx] is None:
            obj = None
        else:
            obj = self.build(db, values, quick)
            for child in self.children:
                child.populate(db, row, obj, quick)
        self.local(from_obj, obj)
        if obj is not None:
            self.remote(obj, from_obj)


class PkReader:
    """`get(pk)`: the instance `Model.objects.filter(pk=pk).first()` gives, by SQL built once.

    For a cache of the rows (cpe.accounts.user_rows) the read is also split in two: `raw(pk)` is
    the row as the database stores it (an encrypted column as its ciphertext), `instance(values)`
    converts those values through the fields' converters into the instance, and `encode`/`decode`
    turn the raw values into text and back (JSON; a datetime or date column as its ISO text), so
    a cache holds exactly what the table holds. `decode` answers None for text written for
    another column list (`tag`: another version of the model, during a deploy)."""

    # What a column's database value may be for `encode`: JSON's own types, and these as ISO text.
    ISO = {"DateTimeField": datetime.fromisoformat, "DateField": date.fromisoformat}
    PLAIN = (
        "AutoField BigAutoField BooleanField CharField TextField EmailField SlugField IntegerField "
        "BigIntegerField SmallIntegerField PositiveIntegerField PositiveSmallIntegerField "
        "PositiveBigIntegerField"
    ).split()

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
        # Encrypted and blind-index columns are text columns (TextField's, CharField's) with a
        # converter of their own: their raw value is the ciphertext or the hash.
        kinds = [f.get_internal_type() for f in fields]
        iso = [(i, self.ISO[k]) for i, k in enumerate(kinds) if k in self.ISO]
        encodable = all(k in self.ISO or k in self.PLAIN for k in kinds)
        columns = ",".join(f"{f.column}:{k}" for f, k in zip(fields, kinds, strict=True))
        tag = hashlib.sha1(columns.encode()).hexdigest()[:8]
        # The instance can be built by filling its __dict__ (what Model.__init__ does with
        # setattr, one field at a time) when nothing else would run (`_fills_dict`, and no
        # pre_init/post_init receiver when the reader is prepared).
        model = self.model
        attnames = [f.attname for f in fields]
        plain = (
            _fills_dict(model, attnames)
            and not pre_init.has_listeners(model)
            and not post_init.has_listeners(model)
        )
        # An encrypted column is left sealed on such an instance (decrypted when first read).
        sealed = {i for i, f in enumerate(fields) if plain and isinstance(f, EncryptedTextField)}
        converters = [(i, c) for i, c in converters if c and i not in sealed]
        return sql, attnames, converters, iso, encodable, tag, plain, sorted(sealed)

    def _ready(self):
        connection = connections[self.using]
        if self._prepared is None:
            self._prepared = self._prepare(connection)
        return connection, self._prepared

    def get(self, pk):
        """The instance with this primary key, or None."""
        connection = connections[self.using]
        if connection.vendor != "postgresql":
            return self.model._default_manager.using(self.using).filter(pk=pk).first()
        values = self.raw(pk)
        return None if values is None else self.instance(values)

    @property
    def cacheable(self) -> bool:
        """Whether raw rows can go into a cache: PostgreSQL, and every column `encode` can write."""
        connection = connections[self.using]
        return connection.vendor == "postgresql" and self._ready()[1][4]

    @property
    def tag(self) -> str:
        return self._ready()[1][5]

    def raw(self, pk) -> list | None:
        """The row's values as the database driver gives them (PostgreSQL), or None."""
        connection, (sql, *_) = self._ready()
        with connection.cursor() as cursor:
            cursor.execute(sql, [pk])
            row = cursor.fetchone()
        return None if row is None else list(row)

    def instance(self, values: list):
        """The model instance of raw values, converted as the ORM converts them."""
        connection, (_, attnames, converters, _, _, _, plain, sealed) = self._ready()
        values = list(values)
        for i, funcs in converters:
            for convert in funcs:
                values[i] = convert(values[i], None, connection)
        if not plain:
            return self.model.from_db(self.using, attnames, values)
        for i in sealed:
            if values[i] not in (None, ""):
                values[i] = Sealed(values[i])
        return _filled(self.model, self.using, attnames, values)

    def encode(self, values: list) -> str:
        _, (_, _, _, iso, _, tag, _, _) = self._ready()
        out = list(values)
        for i, _parse in iso:
            if out[i] is not None:
                out[i] = out[i].isoformat()
        return tag + json.dumps(out, ensure_ascii=False, separators=(",", ":"))

    def decode(self, text: str) -> list | None:
        _, (_, _, _, iso, _, tag, _, _) = self._ready()
        if not text.startswith(tag):
            return None
        values = json.loads(text[len(tag) :])
        for i, parse in iso:
            if values[i] is not None:
                values[i] = parse(values[i])
        return values


class FixedQuery:
    """A queryset whose shape never changes, only some parameter values, compiled into SQL once
    per process and database alias (PostgreSQL; other databases run the ORM every time).

    For the fixed queries of the learners' pages: Django compiles a queryset on every
    evaluation (~0.3 ms even for a one-filter query), and a page runs five to nine of them.

        _passed = FixedQuery(
            lambda user_id: CreditRecord.objects.filter(user_id=user_id, status="active")
            .values_list("course_id", flat=True),
            user_id=int,
        )
        ids = _passed(user_id=user.pk)  # a list: what list(queryset) would give

    `build` receives one value per declared slot and returns the queryset; it must not branch on the
    values, and each slot must reach the SQL as one parameter (an `=`/`<`/`>` lookup, not an `__in`
    list): the first evaluation builds it with sentinel values (int: a negative number in the int4
    range, so not for a small integer column, which takes "smallint"; str: a string no column holds;
    datetime: an aware instant in 1901) and checks that each sentinel is exactly one of the compiled
    parameters, else it raises. Each call then runs the prepared SQL with this call's values, in
    one of two ways decided when the query is prepared (`_direct`):

    - directly, for model instances (select_related included), values_list() tuples, flat
      values_list() and values() dicts: the SQL on this thread's connection cursor, each column
      through its converters (SQLCompiler.get_converters, kept per connection), the rows shaped as
      Django's iterable shapes them (`_run`, `_Node`); an instance of a model with nothing of its
      own in making it (see `_fills_dict`; no pre_init/post_init receiver at the call) gets its
      __dict__ and _state filled as Model.__init__/from_db would, any other is made by
      Model.from_db. Django's per-query and per-row Python (cloning, compiler, results_iter and
      ModelIterable generators, Model.__init__) was a large part of each learner page's CPU;
    - otherwise (prefetch_related, known related objects, annotations or extra() columns on
      instances, composite keys, named tuples, another iterable class) the prepared queryset is
      cloned and the ORM's own iterable runs the prepared SQL.

    Either way model instances, select_related, annotations, values()/values_list(), converters and
    prefetch_related (whose queries are compiled as usual) are exactly Django's
    (cpe/core/tests/test_fixed_query.py compares them). The result is a list, never the queryset
    (a count() or filter() on it would run the prepared SQL)."""

    SENTINELS = {
        int: lambda i: -2_000_000_000 - i,
        str: lambda i: f"\x00fixed-query-slot-{i}\x00",
        datetime: lambda i: datetime(1901, 2, 3, 4, 5, 6, i, tzinfo=dt_timezone.utc),
        "smallint": lambda i: 32_100 + i,  # a (positive) small integer column: 32100 and up
    }
    COERCE = {int: int, str: str, "smallint": int}  # a TextChoices member: its str; a datetime as it is

    def __init__(self, build, **slots):
        self.build, self.slots = build, slots
        self._prepared = {}

    def _prepare(self, using):
        names = list(self.slots)
        sentinels = {n: self.SENTINELS[self.slots[n]](i) for i, n in enumerate(names)}
        qs = self.build(**sentinels).using(using)
        compiler = qs.query.get_compiler(using=using)
        try:
            sql, params = compiler.as_sql()
        except (EmptyResultSet, FullResultSet) as e:  # a sentinel out of a small field's range
            raise ValueError(f"FixedQuery: a slot of {self.slots} cannot hold a sentinel ({e!r})") from e
        params = list(params)
        positions = {}
        for name, value in sentinels.items():
            # The backend may wrap a value (PostgreSQL: a small integer as psycopg's Int2): each
            # call's value is wrapped the same way.
            at = [i for i, p in enumerate(params) if isinstance(p, type(value)) and p == value]
            if len(at) != 1:
                raise ValueError(f"FixedQuery: slot {name!r} is not one parameter of the SQL: {sql}")
            kind = self.slots[name]
            wrap = type(params[at[0]]) if type(params[at[0]]) is not type(value) else self.COERCE.get(kind)
            positions[at[0]] = (name, wrap)
        qs.query.__dict__.pop("get_compiler", None)
        # The converters of each column (Django looks them up column by column on every
        # evaluation): the same for every call on one connection, so kept per connection. The
        # direct path keeps its column converters there; the ORM's path (one FixedQuery takes
        # one path or the other, decided here) a dict of them per tuple of expressions.
        converters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        return qs, compiler, sql, params, positions, converters, self._direct(qs, compiler)

    @staticmethod
    def _direct(qs, compiler):
        """How the rows become the result without the ORM's iterable, or None (the ORM's).

        ("model", root _Node), ("tuple", None), ("flat", None) or ("dict", names): the shapes
        whose result can be built exactly as Django builds it. Not for prefetch_related, known
        related objects (a queryset of a related manager), annotations on instances, extra select
        columns beyond the result's (col_count), composite primary keys, multi-table inheritance
        in select_related, or any other iterable class (named tuples, a custom one)."""
        query, cls = qs.query, qs._iterable_class
        if qs._prefetch_related_lookups or qs._known_related_objects or compiler.has_extra_select:
            return None
        columns = [s[0] for s in compiler.select[: compiler.col_count]]
        if any(isinstance(c, ColPairs) for c in columns):
            return None
        if cls is ModelIterable:
            info = compiler.klass_info
            if not info or compiler.annotation_col_map or not _Node.supported(info, compiler.select):
                return None
            return "model", _Node(info, compiler.select)
        if cls is ValuesListIterable:
            return "tuple", None
        if cls is FlatValuesListIterable:
            return "flat", None
        if cls is ValuesIterable:
            if query.selected:
                names = list(query.selected)
            else:
                names = [*query.extra_select, *query.values_select, *query.annotation_select]
            return ("dict", names) if len(names) == compiler.col_count else None
        return None

    def __call__(self, using: str = "default", **values) -> list:
        connection = connections[using]
        if connection.vendor != "postgresql":
            return list(self.build(**values).using(using))
        prepared = self._prepared.get(using)
        if prepared is None:
            prepared = self._prepared[using] = self._prepare(using)
        template, compiler, sql, params, positions, converters, direct = prepared
        params = list(params)
        for i, (name, wrap) in positions.items():
            params[i] = values[name] if wrap is None else wrap(values[name])
        if direct is not None:
            return self._run(using, connection, compiler, sql, params, converters, direct)
        qs = template._chain()

        def get_compiler(using=None, connection=None, elide_empty=True):
            c = copy.copy(compiler)
            c.connection = connection = connections[using or qs.db]  # this thread's connection
            c.as_sql = lambda *a, **kw: (sql, params)
            known = converters.get(connection)
            if known is None:
                known = converters[connection] = {}

            def get_converters(expressions, c=c, known=known):
                # Keyed by the expressions' identities; the entry keeps the expressions alive, so
                # no other object can take one of those identities while the entry exists.
                key = tuple(map(id, expressions))
                found = known.get(key)
                if found is None:
                    found = known[key] = (tuple(expressions), type(c).get_converters(c, expressions))
                return found[1]

            c.get_converters = get_converters
            return c

        qs.query.get_compiler = get_compiler  # this clone only: it is never handed out
        return list(qs)

    @staticmethod
    def _run(using, connection, compiler, sql, params, converters, direct) -> list:
        """The prepared SQL run on this thread's connection, its rows converted by the columns'
        converters (SQLCompiler.results_iter, apply_converters) and shaped as the queryset's
        iterable shapes them (ModelIterable, ValuesListIterable, FlatValuesListIterable,
        ValuesIterable)."""
        found = converters.get(connection)
        if found is None:
            c = copy.copy(compiler)
            c.connection = connection
            columns = [s[0] for s in compiler.select[: compiler.col_count]]
            found = converters[connection] = list(type(c).get_converters(c, columns).items())
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if found:
            converted = []
            for row in rows:
                row = list(row)
                for pos, (funcs, expression) in found:
                    value = row[pos]
                    for convert in funcs:
                        value = convert(value, expression, connection)
                    row[pos] = value
                converted.append(row)
            rows = converted
        kind, how = direct
        if kind == "model":
            root, children = how, how.children
            start, end, quick = root.start, root.end, root.quick()
            out = []
            for row in rows:
                obj = root.build(using, row[start:end], quick)
                for child in children:
                    child.populate(using, row, obj, quick)
                out.append(obj)
            return out
        if kind == "flat":
            return [row[0] for row in rows]
        if kind == "tuple":
            return [tuple(row) for row in rows]
        return [dict(zip(how, row, strict=True)) for row in rows]
