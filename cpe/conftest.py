"""The domain fixtures the apps' tests share, built from the apps' factories
(`cpe/<app>/tests/factories.py`):

- `learner`: a learner registered through the real services; by default named 张三 and found by
  the AIS person check. An app whose tests mean another learner overrides `learner_traits`
  in its conftest (invoicing and support: e-mail verified, not yet checked), never `learner`;
- `other_learner`: a second learner, 王五;
- `annual` and `paid_order`: year 2026 with one course (C1) and its annual product, and the
  learner's order paid through `payment_confirm`;
- `year`, `course`, `paid`, `practice`: year 2026 and its annual product, a course P1 with two
  chapters and a 10/10/10 exam bank, the learner's paid annual order, the course's practice pool;
- `media_in_tmp`: MEDIA_ROOT in the test's temporary directory (no test writes into var/).

An app's own fixtures stay in its `tests/conftest.py`; a test module never imports fixtures."""

import pytest


@pytest.fixture
def media_in_tmp(settings, tmp_path):
    """Generated files (certificates, invoices, exports) go to a temporary MEDIA_ROOT, and the
    links printed in them to a fixed site."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SITE_URL = "https://cpe.example.cn"
    return settings


@pytest.fixture
def learner_traits():
    """What `learner` is: LearnerFactory's fields and traits (override in an app's conftest)."""
    return {"name": "张三", "ais_found": True}


@pytest.fixture
def learner(register_learner, learner_traits):
    """The test's first learner (l1@example.com, 13900000001 unless the traits say otherwise)."""
    return register_learner(**learner_traits)


@pytest.fixture
def other_learner(register_learner):
    return register_learner(name="王五", email="wangwu@example.com")


@pytest.fixture
def annual(db):
    """Year 2026 (the model's rules), one professional course C1 of 24 hours, and the year's
    annual product at 198.00 yuan."""
    from cpe.catalog.tests.factories import AnnualProductFactory, CourseFactory, TrainingYearFactory

    year = TrainingYearFactory(year=2026)
    CourseFactory(year=year, code="C1", title="会计准则")
    return AnnualProductFactory(year=year)


@pytest.fixture
def paid_order(learner, annual):
    """An order paid through payment_confirm (the path a verified notification takes)."""
    from cpe.orders.tests.factories import PaidOrderFactory

    return PaidOrderFactory(user=learner, product_code=annual.code)


@pytest.fixture
def year(db):
    """Year 2026 (90 hours, 60 professional, one credit an hour) and its annual product."""
    from cpe.catalog.tests.factories import AnnualProductFactory, TrainingYearFactory

    ty = TrainingYearFactory(year=2026, required_hours=90, professional_min_hours=60, credits_per_hour=1)
    AnnualProductFactory(year=ty)
    return ty


@pytest.fixture
def course(year):
    """Course P1 of `year`: two chapters of 20 seconds and an exam bank of 10/10/10 questions."""
    from cpe.exams.tests.factories import make_course

    return make_course(year, "P1")


@pytest.fixture
def paid(learner, year):
    """The learner's annual order of `year`, paid five minutes ago."""
    from cpe.orders.tests.factories import pay

    return pay(learner)


@pytest.fixture
def practice(course):
    """The course's practice pool (10/10/10 of their own texts), the first chapter's exercises
    being its first three questions."""
    from cpe.exams import policy
    from cpe.exams.models import Question
    from cpe.exams.tests.factories import make_bank

    make_bank(course, pool=policy.POOL_PRACTICE)
    first = course.chapters.get(position=1)
    ids = list(
        Question.objects.filter(course=course, pool=policy.POOL_PRACTICE)
        .order_by("id")
        .values_list("id", flat=True)[:3]
    )
    Question.objects.filter(pk__in=ids).update(chapter=first)
    return Question.objects.filter(course=course, pool=policy.POOL_PRACTICE)
