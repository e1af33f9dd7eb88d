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
