"""Fixtures shared by the exams and credits tests (imported by both conftest files): a training
year with courses whose banks hold 10/10/10 questions, a learner with a paid annual course,
chapters completed through the learning services, and a pass through the exam services."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cpe.exams import policy


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SITE_URL = "https://cpe.example.cn"


def make_bank(course, per_type=10, pool=None):
    """per_type questions of each type in `pool` (None: the model's default, the exam pool).
    Practice questions have their own texts ("练习单选0", ...): the pools share no question."""
    from cpe.exams.models import Question

    extra = {"pool": pool} if pool else {}
    prefix = "练习" if pool == "practice" else ""  # the value, so this also runs on code without pools
    qs = []
    for i in range(per_type):
        qs.append(
            Question(
                course=course,
                qtype=policy.SINGLE,
                stem=f"{prefix}单选{i}",
                options=["甲", "乙", "丙", "丁"],
                answer=[i % 4],
                explanation=f"解析{prefix}单选{i}",
                **extra,
            )
        )
        qs.append(
            Question(
                course=course,
                qtype=policy.MULTIPLE,
                stem=f"{prefix}多选{i}",
                options=["甲", "乙", "丙", "丁"],
                answer=[0, 2],
                explanation=f"解析{prefix}多选{i}",
                **extra,
            )
        )
        qs.append(
            Question(
                course=course,
                qtype=policy.JUDGE,
                stem=f"{prefix}判断{i}",
                options=list(policy.JUDGE_OPTIONS),
                answer=[i % 2],
                explanation="",
                **extra,
            )
        )
    Question.objects.bulk_create(qs)


def make_course(year, code, category="professional", hours=24, chapters=2, bank=True):
    from cpe.catalog.models import Chapter, Course

    course = Course.objects.create(
        year=year, code=code, title=f"课程{code}", category=category, credit_hours=hours
    )
    for n in range(chapters):
        Chapter.objects.create(course=course, position=n + 1, title=f"第{n + 1}章", duration_seconds=20)
    if bank:
        make_bank(course)
    return course


@pytest.fixture
def year(db):
    from cpe.catalog.models import Product, ProductKind, TrainingYear

    ty = TrainingYear.objects.create(
        year=2026, required_hours=90, professional_min_hours=60, credits_per_hour=1
    )
    Product.objects.create(
        code="2026-ANNUAL", title="2026 年度课程", kind=ProductKind.ANNUAL, year=ty, price_fen=19800
    )
    return ty


@pytest.fixture
def course(year):
    return make_course(year, "P1")


@pytest.fixture
def learner(register_learner):
    from cpe.accounts.models import User

    user = register_learner(name="张三")
    User.objects.filter(pk=user.pk).update(ais_status="found")
    user.refresh_from_db()
    return user


def pay(user, product_code="2026-ANNUAL", paid_at=None):
    from cpe.orders.gateways.base import PaymentNotice
    from cpe.orders.services import order_create, payment_confirm

    order = order_create(user=user, product_code=product_code, ais_confirmed=True)
    payment_confirm(
        gateway_name="alipay",
        notice=PaymentNotice(
            order_number=order.number,
            gateway_txn_id="T" + order.number,
            amount_fen=order.amount_fen,
            paid_at=paid_at or timezone.now() - timedelta(minutes=5),
        ),
    )
    order.refresh_from_db()
    return order


@pytest.fixture
def paid(learner, year):
    return pay(learner)


def complete_chapters(user, course, at=None):
    """Watch every chapter to its end through the learning services (play_start + one honest
    heartbeat covering the chapter's length after that much real time)."""
    from cpe.learning.services import play_heartbeat, play_start

    at = at or timezone.now()
    for ch in course.chapters.order_by("position"):
        s = play_start(user=user, chapter_id=ch.pk, at=at)
        at = at + timedelta(seconds=ch.duration_seconds + 1)
        r = play_heartbeat(user=user, key=s.key, seq=1, start=0, position=ch.duration_seconds, at=at)
        assert r.completed, r
    return at


def right_answers(attempt):
    return {i.position: list(i.question.answer) for i in attempt.items.select_related("question")}


def wrong_answers(attempt):
    out = {}
    for i in attempt.items.select_related("question"):
        n = len(i.question.options)
        out[i.position] = [next(j for j in range(n) if j not in i.question.answer)]
    return out


def pass_course(user, course, at=None):
    from cpe.exams.services import attempt_start, attempt_submit

    at = at or timezone.now()
    a = attempt_start(user=user, course=course, at=at)
    return attempt_submit(user=user, attempt_id=a.pk, answers=right_answers(a), at=at + timedelta(minutes=5))


@pytest.fixture
def practice(course):
    """The course's practice pool (10/10/10 of their own texts), the first chapter's exercises
    being its first three questions."""
    from cpe.exams.models import Question

    make_bank(course, pool=policy.POOL_PRACTICE)
    first = course.chapters.get(position=1)
    ids = list(
        Question.objects.filter(course=course, pool=policy.POOL_PRACTICE)
        .order_by("id")
        .values_list("id", flat=True)[:3]
    )
    Question.objects.filter(pk__in=ids).update(chapter=first)
    return Question.objects.filter(course=course, pool=policy.POOL_PRACTICE)
