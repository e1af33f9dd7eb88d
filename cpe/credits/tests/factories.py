"""Test factories of credits. `make_record` writes a credit record directly, with the order,
enrolment and graded attempt its constraints require, at a given instant: for the tests of what
reads the ledger (reporting, exports, operations), which need records at fixed times and not
the exam that makes them. A test of how a record comes to be passes a course through
`cpe.exams.tests.factories.pass_course` instead."""

import uuid
from datetime import timedelta

from django.utils import timezone


def make_record(user, year, code="P1", hours=24, *, title=None, category="professional", at=None):
    from cpe.catalog.models import Course, Product
    from cpe.credits import policy
    from cpe.credits.models import CreditRecord
    from cpe.exams import policy as exams_policy
    from cpe.exams.models import Attempt
    from cpe.learning.models import Enrolment
    from cpe.orders.models import Order

    at = at or timezone.now() - timedelta(hours=1)
    course, _ = Course.objects.get_or_create(
        code=code,
        defaults=dict(year=year, title=title or f"课程{code}", category=category, credit_hours=hours),
    )
    product = Product.objects.get(code=f"{year.year}-ANNUAL")
    order = Order.objects.create(
        number=uuid.uuid4().hex[:20],
        user=user,
        product=product,
        subject=product.title,
        amount_fen=product.price_fen,
        validity_days=365,
        status="paid",
        created_at=at,
        paid_at=at,
    )
    enrolment = Enrolment.objects.create(
        user=user,
        product=product,
        order=order,
        year=year,
        valid_from=at,
        valid_until=at + timedelta(days=365),
    )
    attempt = Attempt.objects.create(
        user=user,
        course=course,
        enrolment=enrolment,
        number=Attempt.objects.filter(user=user, course=course).count() + 1,
        status="graded",
        started_at=at,
        deadline=at + timedelta(hours=1),
        submitted_at=at + timedelta(minutes=30),
        score=90,
        pass_mark=exams_policy.PASS_MARK,
        passed=True,
    )
    return CreditRecord.objects.create(
        user=user,
        year=year,
        course=course,
        course_code=course.code,
        course_title=course.title,
        category=course.category,
        hours=course.credit_hours,
        credits=policy.credits_for(course.credit_hours, year.credits_per_hour),
        score=90,
        passed_at=attempt.submitted_at,
        attempt=attempt,
        order=order,
        created_at=at + timedelta(minutes=30),
    )
