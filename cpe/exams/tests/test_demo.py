"""The demo seed gives each course both pools, with no question in both, so the demo's practice
and its exam both work; an older demo database (all exam questions) gets its practice pool."""

import pytest

from cpe.exams import demo, policy, services
from cpe.exams.models import Question
from cpe.exams.tests.factories import make_course

pytestmark = pytest.mark.django_db


def test_demo_seeds_both_pools_and_no_question_in_both(year):
    course = make_course(year, "D1", bank=False, chapters=3)
    assert demo.seed_question_banks(course_codes=["D1"]) == 60
    exam = Question.objects.filter(course=course, pool=policy.POOL_EXAM)
    practice = Question.objects.filter(course=course, pool=policy.POOL_PRACTICE)
    assert exam.count() == practice.count() == 30
    ok, short = policy.bank_sufficient(services.bank_counts(course), services.current_rules().composition)
    assert ok, short
    exam_keys = {policy.question_key(s) for s in exam.values_list("stem", flat=True)}
    practice_keys = {policy.question_key(s) for s in practice.values_list("stem", flat=True)}
    assert not exam_keys & practice_keys
    assert not practice.filter(chapter=None).exists()
    per_chapter = [
        len(services.practice_questions(course=course, chapter=ch)) for ch in course.chapters.all()
    ]
    assert sum(per_chapter) == 30 and min(per_chapter) >= 9  # every chapter has exercises
    assert len(services.practice_questions(course=course)) == 30  # a full mock paper
    assert demo.seed_question_banks(course_codes=["D1"]) == 0  # idempotent


def test_demo_adds_the_practice_pool_to_an_older_demo_database(year):
    course = make_course(year, "D2", bank=False)
    demo.seed_question_banks(course_codes=["D2"])
    Question.objects.filter(course=course, pool=policy.POOL_PRACTICE).delete()  # as migrated: exam only
    exam_before = set(Question.objects.filter(course=course).values_list("id", flat=True))
    assert demo.seed_question_banks(course_codes=["D2"]) == 30
    exam_after = set(
        Question.objects.filter(course=course, pool=policy.POOL_EXAM).values_list("id", flat=True)
    )
    assert exam_after == exam_before
    assert Question.objects.filter(course=course, pool=policy.POOL_PRACTICE).count() == 30
