"""Exam services on a real database: what changes, and what does not when refused."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cpe.core.models import AuditEvent
from cpe.credits.models import CreditRecord
from cpe.exams import services
from cpe.exams.errors import ExamError
from cpe.exams.models import Attempt
from cpe.exams.tests.factories import right_answers, wrong_answers
from cpe.learning.tests.factories import complete_chapters
from cpe.orders.tests.factories import pay

pytestmark = pytest.mark.django_db


def test_exam_refused_until_every_chapter_is_complete(learner, course, paid):
    ch1 = course.chapters.get(position=1)
    from cpe.learning.services import play_heartbeat, play_start

    now = timezone.now()
    s = play_start(user=learner, chapter_id=ch1.pk, at=now)
    play_heartbeat(user=learner, key=s.key, seq=1, start=0, position=20, at=now + timedelta(seconds=21))
    gate = services.exam_gate(learner, course, now)
    assert gate.decision.code == "chapters_incomplete" and (gate.chapters_done, gate.chapters_total) == (1, 2)
    with pytest.raises(ExamError) as exc:
        services.attempt_start(user=learner, course=course, at=now)
    assert exc.value.code == "chapters_incomplete"
    assert not Attempt.objects.exists()


def test_refused_without_enrolment_and_on_hold(learner, course):
    with pytest.raises(ExamError) as exc:
        services.attempt_start(user=learner, course=course)
    assert exc.value.code == "not_enrolled"
    pay(learner)
    complete_chapters(learner, course)
    type(learner).objects.filter(pk=learner.pk).update(correction_reason="姓名有误")
    learner.refresh_from_db()
    with pytest.raises(ExamError) as exc:
        services.attempt_start(user=learner, course=course)
    assert exc.value.code == "on_hold" and not Attempt.objects.exists()


def test_eligibility_at_the_enrolment_boundary(learner, course, paid):
    complete_chapters(learner, course)
    end = paid.enrolment.valid_until
    assert services.exam_gate(learner, course, end - timedelta(seconds=1)).decision.allowed
    assert services.exam_gate(learner, course, end).decision.code == "expired"
    with pytest.raises(ExamError):
        services.attempt_start(user=learner, course=course, at=end)
    a = services.attempt_start(user=learner, course=course, at=end - timedelta(seconds=1))
    assert a.number == 1


def test_paper_drawn_saved_as_you_go_and_resumed(learner, course, paid):
    complete_chapters(learner, course)
    now = timezone.now()
    a = services.attempt_start(user=learner, course=course, at=now)
    items = list(a.items.order_by("position"))
    assert len(items) == 30 and sum(i.points for i in items) == 100
    assert a.deadline == now + timedelta(minutes=60)
    services.attempt_answer_save(
        user=learner, attempt_id=a.pk, position=1, chosen=[2], at=now + timedelta(minutes=1)
    )
    # A reload (start again) resumes the same paper with the answer kept.
    again = services.attempt_start(user=learner, course=course, at=now + timedelta(minutes=2))
    assert again.pk == a.pk and again.items.get(position=1).answer == [2]
    assert Attempt.objects.count() == 1


def test_fail_then_pass_records_credit_once(learner, course, paid):
    complete_chapters(learner, course)
    now = timezone.now()
    a1 = services.attempt_start(user=learner, course=course, at=now)
    a1 = services.attempt_submit(
        user=learner, attempt_id=a1.pk, answers=wrong_answers(a1), at=now + timedelta(minutes=3)
    )
    assert (a1.score, a1.passed, a1.status) == (0, False, "graded")
    assert not CreditRecord.objects.exists()
    a2 = services.attempt_start(user=learner, course=course, at=now + timedelta(minutes=4))
    assert a2.number == 2
    a2 = services.attempt_submit(
        user=learner, attempt_id=a2.pk, answers=right_answers(a2), at=now + timedelta(minutes=9)
    )
    assert (a2.score, a2.passed) == (100, True)
    rec = CreditRecord.objects.get()
    assert (
        rec.hours,
        rec.credits,
        rec.category,
        rec.course_code,
        rec.status,
        rec.attempt_id,
        rec.order_id,
    ) == (24, 24, "professional", "P1", "active", a2.pk, paid.pk)
    assert rec.certificate.is_valid
    # Passing again the same year records nothing more.
    a3 = services.attempt_start(user=learner, course=course, at=now + timedelta(minutes=10))
    services.attempt_submit(
        user=learner, attempt_id=a3.pk, answers=right_answers(a3), at=now + timedelta(minutes=12)
    )
    assert CreditRecord.objects.count() == 1
    # Submitting a graded attempt again changes nothing.
    before = AuditEvent.objects.count()
    again = services.attempt_submit(user=learner, attempt_id=a2.pk, answers=wrong_answers(a2))
    assert again.score == 100 and AuditEvent.objects.count() == before


def test_pass_mark_boundary_below_and_above(learner, course, paid):
    """With 3/4/3 points no paper scores 59 or 60 exactly by whole items above 40 + 3k ... so:
    40 (all multiple) + 6 single = 58 fails, one more true/false = 61 passes."""
    complete_chapters(learner, course)
    now = timezone.now()

    def sit(n_single_right, n_judge_right, minutes):
        a = services.attempt_start(user=learner, course=course, at=now + timedelta(minutes=minutes))
        right, wrong = right_answers(a), wrong_answers(a)
        answers, s_left, j_left = {}, n_single_right, n_judge_right
        for item in a.items.all():
            ok = item.qtype == "multiple"
            if item.qtype == "single" and s_left:
                ok, s_left = True, s_left - 1
            if item.qtype == "judge" and j_left:
                ok, j_left = True, j_left - 1
            answers[item.position] = right[item.position] if ok else wrong[item.position]
        return services.attempt_submit(
            user=learner, attempt_id=a.pk, answers=answers, at=now + timedelta(minutes=minutes + 1)
        )

    a = sit(6, 0, 0)
    assert (a.score, a.passed) == (58, False)
    b = sit(6, 1, 10)
    assert (b.score, b.passed) == (61, True)


def test_pass_mark_setting_and_exact_60(learner, course, paid, settings):
    settings.EXAM_PAPER_COMPOSITION = [("single", 10, 6), ("judge", 10, 4)]
    complete_chapters(learner, course)
    now = timezone.now()
    a = services.attempt_start(user=learner, course=course, at=now)
    right, wrong = right_answers(a), wrong_answers(a)
    answers = {i.position: (right if i.qtype == "single" else wrong)[i.position] for i in a.items.all()}
    a = services.attempt_submit(user=learner, attempt_id=a.pk, answers=answers, at=now + timedelta(minutes=1))
    assert (a.score, a.passed) == (60, True)
    settings.EXAM_PASS_MARK = 61
    b = services.attempt_start(user=learner, course=course, at=now + timedelta(minutes=2))
    answers = {
        i.position: (right_answers(b) if i.qtype == "single" else wrong_answers(b))[i.position]
        for i in b.items.all()
    }
    b = services.attempt_submit(user=learner, attempt_id=b.pk, answers=answers, at=now + timedelta(minutes=3))
    assert (b.score, b.pass_mark, b.passed) == (60, 61, False)


def test_server_enforces_the_time_limit(learner, course, paid):
    complete_chapters(learner, course)
    now = timezone.now()
    a = services.attempt_start(user=learner, course=course, at=now)
    right = right_answers(a)
    services.attempt_answer_save(
        user=learner, attempt_id=a.pk, position=1, chosen=right[1], at=a.deadline - timedelta(seconds=1)
    )
    with pytest.raises(ExamError) as exc:
        services.attempt_answer_save(
            user=learner, attempt_id=a.pk, position=2, chosen=right[2], at=a.deadline + timedelta(minutes=1)
        )
    assert exc.value.code == "time_up"
    # A late submission is graded with what was saved in time, not with what it carries.
    a = services.attempt_submit(
        user=learner, attempt_id=a.pk, answers=right, at=a.deadline + timedelta(minutes=1)
    )
    assert a.auto_submitted and a.score == a.items.get(position=1).points
    assert a.submitted_at <= a.deadline + timedelta(seconds=15)


def test_abandoned_attempt_is_graded_when_overdue(learner, course, paid):
    complete_chapters(learner, course)
    now = timezone.now()
    a = services.attempt_start(user=learner, course=course, at=now)
    later = a.deadline + timedelta(hours=1)
    services.attempt_close_if_overdue(a, later)
    a.refresh_from_db()
    assert a.status == "graded" and a.auto_submitted and a.score == 0
    b = services.attempt_start(user=learner, course=course, at=later)
    assert b.pk != a.pk and b.number == 2


def test_max_attempts_setting(learner, course, paid, settings):
    settings.EXAM_MAX_ATTEMPTS = 1
    complete_chapters(learner, course)
    a = services.attempt_start(user=learner, course=course)
    services.attempt_submit(user=learner, attempt_id=a.pk, answers=wrong_answers(a))
    with pytest.raises(ExamError) as exc:
        services.attempt_start(user=learner, course=course)
    assert exc.value.code == "no_attempts" and Attempt.objects.count() == 1


def test_small_bank_refused(learner, year, paid):
    from cpe.exams.tests.factories import make_course

    small = make_course(year, "S1", bank=False)
    complete_chapters(learner, small)
    with pytest.raises(ExamError) as exc:
        services.attempt_start(user=learner, course=small)
    assert exc.value.code == "bank_too_small"


def test_practice_is_unlimited_and_earns_nothing(learner, course, paid, practice):
    qs = services.practice_questions(course=course)
    assert len(qs) == 30
    q = qs[0]["question"]
    for _ in range(3):
        assert services.practice_check(user=learner, question_id=q.pk, chosen=q.answer)["correct"]
    r = services.practice_check(user=learner, question_id=q.pk, chosen=[])
    assert not r["correct"] and not r["answered"]
    assert not Attempt.objects.exists() and not CreditRecord.objects.exists()
