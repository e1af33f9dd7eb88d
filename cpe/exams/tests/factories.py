"""Test factories of exams: question banks (10 questions of each type), a course with chapters and
a bank, the right and wrong answers of an attempt, and a course passed through the exam services
(`attempt_start`, `attempt_submit`), so the credit record is what passing makes."""

from datetime import timedelta

from django.utils import timezone

from cpe.catalog.tests.factories import CourseFactory
from cpe.exams import policy


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
    """A course of `year` with `chapters` chapters of 20 seconds and, unless `bank` is False,
    an exam bank of 10/10/10 questions."""
    course = CourseFactory(year=year, code=code, category=category, credit_hours=hours, chapters=chapters)
    if bank:
        make_bank(course)
    return course


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
