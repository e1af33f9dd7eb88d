"""The same submission posted 10 times at once is graded once (PostgreSQL: real row locks;
SQLite serialises whole-database writes and cannot run this meaningfully)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from cpe.core.models import AuditEvent
from cpe.credits.models import Certificate, CreditRecord
from cpe.exams import services
from cpe.exams.tests.factories import right_answers
from cpe.learning.tests.factories import complete_chapters

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def test_ten_simultaneous_submissions_graded_once(learner, course, paid):
    complete_chapters(learner, course)
    now = timezone.now()
    a = services.attempt_start(user=learner, course=course, at=now)
    answers = right_answers(a)
    barrier = threading.Barrier(10)
    results, errors = [], []

    def submit():
        try:
            barrier.wait()
            results.append(
                services.attempt_submit(
                    user=learner, attempt_id=a.pk, answers=answers, at=now + timedelta(minutes=5)
                ).score
            )
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results == [100] * 10
    assert AuditEvent.objects.filter(event_type="exam.graded", subject_id=str(a.pk)).count() == 1
    assert CreditRecord.objects.filter(user=learner).count() == 1
    assert Certificate.objects.filter(user=learner, kind="course").count() == 1


def test_two_courses_passed_at_once_issue_one_year_certificate(learner, year, paid):
    """Passing the two courses that complete the year at the same moment: one 学时证明."""
    from cpe.exams.tests.factories import make_course

    c1, c2 = make_course(year, "A1", hours=60), make_course(year, "A2", category="public", hours=30)
    complete_chapters(learner, c1)
    complete_chapters(learner, c2)
    now = timezone.now()
    attempts = [services.attempt_start(user=learner, course=c, at=now) for c in (c1, c2)]
    barrier = threading.Barrier(2)

    def submit(att):
        try:
            barrier.wait()
            services.attempt_submit(
                user=learner, attempt_id=att.pk, answers=right_answers(att), at=now + timedelta(minutes=5)
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit, args=(att,)) for att in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert CreditRecord.objects.filter(user=learner, status="active").count() == 2
    assert Certificate.objects.filter(user=learner, kind="year", status="valid").count() == 1
