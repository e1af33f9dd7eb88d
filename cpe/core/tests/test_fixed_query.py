"""cpe.core.rows.FixedQuery: a fixed-shape queryset compiled once per process gives what the ORM
gives, with each call's own values, and refuses a shape it cannot hold."""

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler

from cpe.catalog.models import Course, TrainingYear
from cpe.core.rows import FixedQuery

pytestmark = pytest.mark.django_db


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("SQL prepared once on PostgreSQL only (elsewhere the ORM runs every time)")


@pytest.fixture
def years():
    made = []
    for y in (2031, 2032):
        ty = TrainingYear.objects.create(year=y)
        for i, (code, published) in enumerate((("A", True), ("B", False), ("C", True))):
            Course.objects.create(
                year=ty,
                code=f"{y}{code}",
                title=f"课程{y}{code}",
                category="professional",
                credit_hours=3,
                position=3 - i,
                is_published=published,
            )
        made.append(ty)
    return made


def _published(year_id):
    return (
        Course.objects.filter(year_id=year_id, is_published=True).select_related("year").order_by("position")
    )


def test_each_call_runs_with_its_own_values_and_gives_what_the_orm_gives(years):
    fixed = FixedQuery(_published, year_id=int)
    for ty in years + years:
        got = fixed(year_id=ty.pk)
        want = list(_published(ty.pk))
        assert [c.pk for c in got] == [c.pk for c in want] and len(got) == 2
        assert all(c.year.year == ty.year and c.title == w.title for c, w in zip(got, want, strict=True))
    assert fixed(year_id=0) == []


def test_values_list_and_a_string_slot(years):
    fixed = FixedQuery(
        lambda year_id, code: (
            Course.objects.filter(year_id=year_id, code__gt=code)
            .order_by("code")
            .values_list("code", flat=True)
        ),
        year_id=int,
        code=str,
    )
    assert fixed(year_id=years[0].pk, code="2031A") == ["2031B", "2031C"]
    assert fixed(year_id=years[1].pk, code="2032B") == ["2032C"]


def test_compiled_once_per_process(postgresql, years, monkeypatch):
    fixed = FixedQuery(_published, year_id=int)
    fixed(year_id=years[0].pk)  # prepared here
    compiled = []
    original = SQLCompiler.as_sql
    monkeypatch.setattr(
        SQLCompiler, "as_sql", lambda self, *a, **kw: compiled.append(1) or original(self, *a, **kw)
    )
    assert len(fixed(year_id=years[1].pk)) == 2
    assert compiled == []
    assert len(list(_published(years[1].pk))) == 2 and compiled  # the ORM's queryset still compiles


def test_a_slot_that_is_not_one_parameter_is_refused(postgresql, years):
    twice = FixedQuery(
        lambda year_id: Course.objects.filter(year_id=year_id).exclude(pk=year_id), year_id=int
    )
    with pytest.raises(ValueError, match="year_id"):
        twice(year_id=years[0].pk)
    unused = FixedQuery(lambda year_id: Course.objects.all(), year_id=int)
    with pytest.raises(ValueError, match="year_id"):
        unused(year_id=years[0].pk)
    small = FixedQuery(lambda year: TrainingYear.objects.filter(year=year), year=int)  # smallint
    with pytest.raises(ValueError, match="sentinel"):
        small(year=2031)


def test_the_prepared_queryset_is_not_changed_by_a_call(postgresql, years):
    fixed = FixedQuery(_published, year_id=int)
    fixed(year_id=years[0].pk)
    template = fixed._prepared["default"][0]
    assert "get_compiler" not in template.query.__dict__


@pytest.mark.django_db(transaction=True)  # the other thread's connection sees the committed rows
def test_converters_kept_per_connection_convert_every_call_and_every_thread(postgresql, django_user_model):
    """The columns' converters are looked up once per connection (not on every call): an
    encrypted column still decrypts and a date still converts on each later call, and on another
    thread's connection."""
    import threading

    from django.db import connections

    users = [
        django_user_model.objects.create(username=f"fq{i}", name=f"名字{i}", mobile=f"1390000000{i}")
        for i in range(3)
    ]
    fixed = FixedQuery(lambda pk: django_user_model.objects.filter(pk=pk), pk=int)
    seen = []
    for u in users + users:
        (got,) = fixed(pk=u.pk)
        seen.append((got.name, got.mobile, got.date_joined == u.date_joined))
    assert seen == [(u.name, u.mobile, True) for u in users + users]

    other = []

    def on_another_thread():
        try:
            other.extend((got.name, got.mobile) for u in users for got in fixed(pk=u.pk))
        finally:
            connections.close_all()

    t = threading.Thread(target=on_another_thread)
    t.start()
    t.join()
    assert other == [(u.name, u.mobile) for u in users]


# The rows built without the ORM's iterable (FixedQuery._run): each shape it handles gives what
# the ORM gives, value for value, instance state included; the other shapes still run the ORM.


def _state(obj, path=()):
    """Everything an instance holds: its class, its attributes in order, its _state, and the
    instances select_related (or a prefetch) cached on it, recursively; an instance already on the
    path (a reverse one-to-one's cache) as its place on the path, so identities are compared too."""
    if obj is None:
        return None
    for depth, seen in enumerate(path):
        if seen is obj:
            return ("back", depth)
    path = (*path, obj)
    skip = ("_state", "_prefetched_objects_cache")
    attrs = [(k, type(v), v) for k, v in obj.__dict__.items() if k not in skip]
    prefetched = obj.__dict__.get("_prefetched_objects_cache", {})
    attrs += [(k, [_state(o, path) for o in qs]) for k, qs in prefetched.items()]
    cache = obj._state.__dict__.get("fields_cache", {})
    return (
        type(obj),
        attrs,
        obj._state.adding,
        obj._state.db,
        sorted((k, _state(v, path)) for k, v in cache.items()),
    )


@pytest.fixture
def orm_iterables(monkeypatch):
    """The SQL compilers whose rows went through the ORM's results_iter (the fallback)."""
    ran = []
    original = SQLCompiler.results_iter
    monkeypatch.setattr(
        SQLCompiler, "results_iter", lambda self, *a, **kw: ran.append(self) or original(self, *a, **kw)
    )
    return ran


def _same_as_orm(build, ran, direct=True, **values):
    fixed = FixedQuery(build, **{k: type(v) for k, v in values.items()})
    ran.clear()
    got = fixed(**values)
    assert isinstance(got, list)
    if connection.vendor == "postgresql":
        assert (fixed._prepared["default"][-1] is not None) is direct
        assert bool(ran) is not direct, "the rows went through the ORM's iterable" if direct else "not"
    ran.clear()
    want = list(build(**values))
    assert got == want
    if got and hasattr(got[0], "_state"):
        assert [_state(o) for o in got] == [_state(o) for o in want]
        assert all(o._state.adding is False and o._state.db == "default" for o in got)
    else:
        assert [(type(x), x) for x in got] == [(type(x), x) for x in want]
    got_again = fixed(**values)  # the converters kept for this connection
    assert got_again == want
    return got


def test_plain_instances_encrypted_text_datetimes_booleans(postgresql, learner, other_learner, orm_iterables):
    from cpe.accounts.models import User

    User.objects.filter(pk=learner.pk).update(self_supporting=True)
    got = _same_as_orm(
        lambda pk: User.objects.filter(pk__gte=pk).order_by("pk"), orm_iterables, pk=learner.pk
    )
    assert [u.pk for u in got] == [learner.pk, other_learner.pk]
    first = got[0]
    assert first.mobile == learner.mobile and first.email == learner.email and first.mobile
    assert first.id_number == learner.id_number
    assert first.self_supporting is True and got[1].self_supporting is False
    assert first.date_joined == learner.date_joined and first.date_joined.tzinfo is not None
    assert first.mobile_verified_at == User.objects.get(pk=learner.pk).mobile_verified_at


def test_plain_instances_json_nullable_foreign_keys(postgresql, practice, orm_iterables):
    from cpe.exams.models import Question

    course_id = practice.first().course_id
    got = _same_as_orm(
        lambda course_id: Question.objects.filter(course_id=course_id).order_by("id"),
        orm_iterables,
        course_id=course_id,
    )
    assert {q.chapter_id is None for q in got} == {True, False}
    deferred = _same_as_orm(  # deferred fields: each instance made by Model.from_db
        lambda course_id: Question.objects.filter(course_id=course_id).only("stem").order_by("id"),
        orm_iterables,
        course_id=course_id,
    )
    loaded = {"id", "stem"}
    assert deferred[0].get_deferred_fields() == {
        f.attname for f in Question._meta.concrete_fields if f.attname not in loaded
    }
    assert all(isinstance(q.options, list) and isinstance(q.answer, list) for q in got)
    assert got[0].course.pk == course_id  # the foreign key's attribute still reads the related row


def test_select_related_with_a_nullable_relation(postgresql, learner, paid, course, orm_iterables):
    from cpe.catalog.models import Product
    from cpe.learning.models import Enrolment

    Product.objects.create(
        code="P1-SINGLE", title="单门", kind="single", year=course.year, course=course, price_fen=1
    )
    got = _same_as_orm(
        lambda user_id: (
            Enrolment.objects.filter(user_id=user_id)
            .select_related("product__course", "year", "order")
            .order_by("-valid_from")
        ),
        orm_iterables,
        user_id=learner.pk,
    )
    assert got and got[0].product.course is None and got[0].order.pk == paid.pk
    assert got[0]._state.fields_cache["product"]._state.fields_cache == {"course": None}
    products = _same_as_orm(
        lambda year_id: Product.objects.filter(year_id=year_id).select_related("course__year").order_by("id"),
        orm_iterables,
        year_id=course.year_id,
    )
    assert [p.course.code if p.course else None for p in products] == [None, course.code]
    assert products[1].course.year.year == course.year.year


def test_select_related_reverse_one_to_one_present_and_absent(postgresql, learner, paid, orm_iterables):
    from django.utils import timezone

    from cpe.orders.models import Order

    unpaid = Order.objects.create(  # pending: no enrolment
        number="FQ-PENDING",
        user=learner,
        product=paid.product,
        subject=paid.subject,
        amount_fen=paid.amount_fen,
        validity_days=paid.validity_days,
        created_at=timezone.now(),
    )
    got = _same_as_orm(
        lambda user_id: (
            Order.objects.filter(user_id=user_id)
            .select_related("product", "product__year", "enrolment")
            .order_by("created_at")
        ),
        orm_iterables,
        user_id=learner.pk,
    )
    assert [o.pk for o in got] == [paid.pk, unpaid.pk]
    assert got[0].enrolment.order is got[0]  # the reverse side's cache: the same instance
    assert got[1]._state.fields_cache["enrolment"] is None


def test_values_list_flat_and_values_with_converters(postgresql, practice, orm_iterables):
    from django.db.models import Count

    from cpe.exams.models import Question

    course_id = practice.first().course_id
    _same_as_orm(
        lambda course_id: (
            Question.objects.filter(course_id=course_id)
            .order_by("id")
            .values_list("id", "options", "is_active", "created_at", "chapter_id")
        ),
        orm_iterables,
        course_id=course_id,
    )
    flat = _same_as_orm(
        lambda course_id: (
            Question.objects.filter(course_id=course_id).order_by("id").values_list("answer", flat=True)
        ),
        orm_iterables,
        course_id=course_id,
    )
    assert all(isinstance(a, list) for a in flat)
    dicts = _same_as_orm(
        lambda course_id: (
            Question.objects.filter(course_id=course_id)
            .order_by("id")
            .values("id", "options", "created_at", "chapter__title")
        ),
        orm_iterables,
        course_id=course_id,
    )
    assert list(dicts[0]) == ["id", "options", "created_at", "chapter__title"]
    grouped = _same_as_orm(  # values + annotate (GROUP BY): the annotation's column named too
        lambda course_id: (
            Question.objects.filter(course_id=course_id)
            .values("pool")
            .annotate(n=Count("id"))
            .order_by("pool")
        ),
        orm_iterables,
        course_id=course_id,
    )
    assert [list(d) for d in grouped] == [["pool", "n"]] * len(grouped) and grouped
    _same_as_orm(
        lambda course_id: (
            Question.objects.filter(course_id=course_id)
            .values_list("pool")
            .annotate(n=Count("id"))
            .values_list("n", "pool")
            .order_by("pool")
        ),
        orm_iterables,
        course_id=course_id,
    )


def test_shapes_it_does_not_handle_run_the_orm(postgresql, years, orm_iterables):
    from django.db.models import Count

    year_id = years[0].pk
    _same_as_orm(  # annotations on instances
        lambda year_id: Course.objects.filter(year_id=year_id).annotate(n=Count("chapters")).order_by("id"),
        orm_iterables,
        direct=False,
        year_id=year_id,
    )
    _same_as_orm(  # prefetch_related
        lambda year_id: TrainingYear.objects.filter(pk=year_id).prefetch_related("courses"),
        orm_iterables,
        direct=False,
        year_id=year_id,
    )
    _same_as_orm(  # named tuples
        lambda year_id: Course.objects.filter(year_id=year_id).order_by("id").values_list("code", named=True),
        orm_iterables,
        direct=False,
        year_id=year_id,
    )


def test_init_receivers_and_a_custom_init_go_through_from_db(postgresql, years, orm_iterables):
    from django.db.models.signals import post_init

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.__dict__.get("code"))

    fixed = FixedQuery(lambda year_id: Course.objects.filter(year_id=year_id).order_by("code"), year_id=int)
    fixed(year_id=years[0].pk)  # prepared with no receiver
    post_init.connect(receiver, sender=Course)
    try:
        got = fixed(year_id=years[0].pk)
    finally:
        post_init.disconnect(receiver, sender=Course)
    assert seen == [c.code for c in got] == ["2031A", "2031B", "2031C"]
    assert not orm_iterables  # still its own rows, each instance made by Model.from_db
