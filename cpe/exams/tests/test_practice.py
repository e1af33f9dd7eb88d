"""Practice and exam share no answer (rules R7.5 immediate feedback; R8.2-8.3 the exam is the
learner's own work): practice feedback only ever answers for a practice-pool question, never
while the learner has an exam in progress, and exam papers are drawn from the exam pool only."""

import random
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cpe.core.models import AuditEvent
from cpe.credits.models import CreditRecord
from cpe.exams import policy, services
from cpe.exams.errors import ExamError
from cpe.exams.models import Attempt, Question
from cpe.exams.tests.factories import make_bank, make_course
from cpe.learning.tests.factories import complete_chapters

pytestmark = pytest.mark.django_db

REVEALING = ("正确答案", "回答正确", "回答错误", "解析")


def _login(client, user):
    from cpe.agreements import selectors as agreement_selectors

    client.force_login(user, backend="cpe.accounts.auth.IdentifierBackend")
    s = client.session
    s["agreement_ok"] = agreement_selectors.required_major_id(timezone.now())
    s.save()


def _check(client, question_id, chosen):
    return client.post(reverse("exams:practice_check", args=[question_id]), {"chosen": chosen})


def _missing_id():
    return (Question.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1000


def test_attack_feedback_on_every_question_of_an_open_paper_reveals_nothing(client, learner, course, paid):
    """The filed attack: with the exam open, ask practice feedback for each of the 30 paper
    questions. Each gets exactly the answer of an id that does not exist; nothing about the
    question (verdict, right answer, explanation) comes back, and the paper is untouched."""
    complete_chapters(learner, course)
    _login(client, learner)
    client.post(reverse("exams:start", args=[course.pk]))
    attempt = Attempt.objects.get(user=learner, status="open")
    missing = _check(client, _missing_id(), [0])
    assert missing.status_code == 404
    events = AuditEvent.objects.count()
    items = list(attempt.items.select_related("question").order_by("position"))
    assert len(items) == 30
    for item in items:
        q = item.question
        for chosen in (q.answer, [j for j in range(len(q.options)) if j not in q.answer][:1]):
            resp = _check(client, q.pk, chosen)
            body = resp.content.decode()
            assert resp.status_code == 404 and resp.content == missing.content, (item.position, body)
            assert not any(word in body for word in REVEALING)
            assert "；".join(q.options[i] for i in q.answer) not in body
            if q.explanation:
                assert q.explanation not in body
    # What must not happen: the paper and its answers unchanged, nothing recorded.
    attempt.refresh_from_db()
    assert attempt.status == "open" and not attempt.items.exclude(answer=[]).exists()
    assert AuditEvent.objects.count() == events and not CreditRecord.objects.exists()


def test_an_exam_question_is_not_found_like_a_missing_id_even_with_no_exam_open(
    client, learner, course, paid
):
    _login(client, learner)
    q = Question.objects.filter(course=course, qtype="multiple").first()  # the fixture's bank: exam pool
    missing = _check(client, _missing_id(), [0, 2])
    resp = _check(client, q.pk, q.answer)
    assert resp.status_code == missing.status_code == 404 and resp.content == missing.content
    assert not any(word in resp.content.decode() for word in REVEALING)


def test_practice_works_with_no_exam_open(client, learner, course, paid, practice):
    _login(client, learner)
    page = client.get(reverse("exams:practice_mock", args=[course.pk])).content.decode()
    stems = re.findall(r"</span> (\S+)</legend>", page)
    assert page.count("提交本题") == 30 and len(stems) == 30
    assert all(s.startswith("练习") for s in stems)  # no exam question on the mock paper
    q = practice.filter(qtype="multiple").first()
    fb = _check(client, q.pk, [0]).content.decode()
    assert "回答错误" in fb and "甲；丙" in fb and "解析练习多选" in fb
    ok = _check(client, q.pk, [0, 2])
    assert ok.status_code == 200 and "回答正确" in ok.content.decode()
    chapter = course.chapters.get(position=1)
    page = client.get(reverse("exams:practice_chapter", args=[chapter.pk])).content.decode()
    assert page.count("提交本题") == 3
    assert not Attempt.objects.exists() and not CreditRecord.objects.exists()


def test_practice_refused_while_an_exam_is_open_then_back_after_submitting(
    client, learner, course, paid, practice
):
    complete_chapters(learner, course)
    _login(client, learner)
    q = practice.filter(qtype="single").first()
    assert _check(client, q.pk, q.answer).status_code == 200
    client.post(reverse("exams:start", args=[course.pk]))
    attempt = Attempt.objects.get(user=learner, status="open")

    resp = _check(client, q.pk, q.answer)
    body = resp.content.decode()
    assert resp.status_code == 403 and "您有正在进行的考试，交卷后才能继续练习" in body
    assert not any(word in body for word in REVEALING) and q.explanation not in body
    chapter = course.chapters.get(position=1)
    for url in (
        reverse("exams:practice_mock", args=[course.pk]),
        reverse("exams:practice_chapter", args=[chapter.pk]),
    ):
        page = client.get(url)
        html = page.content.decode()
        assert page.status_code == 403 and "您有正在进行的考试" in html
        assert "提交本题" not in html and q.stem not in html
        assert reverse("exams:attempt", args=[attempt.pk]) in html  # the way back to the paper
    attempt.refresh_from_db()
    assert attempt.status == "open" and not attempt.items.exclude(answer=[]).exists()

    client.post(reverse("exams:submit", args=[attempt.pk]), {})
    attempt.refresh_from_db()
    assert attempt.status == "graded" and attempt.score == 0
    again = _check(client, q.pk, q.answer)
    assert again.status_code == 200 and "回答正确" in again.content.decode()


def test_an_exam_open_on_another_course_blocks_practice_everywhere(learner, year, course, paid, practice):
    other = make_course(year, "P2")
    at = complete_chapters(learner, other)
    q = practice.first()
    assert services.practice_check(user=learner, question_id=q.pk, chosen=q.answer, at=at)["correct"]
    attempt = services.attempt_start(user=learner, course=other, at=at)
    with pytest.raises(ExamError) as exc:
        services.practice_check(user=learner, question_id=q.pk, chosen=q.answer, at=at + timedelta(minutes=1))
    assert exc.value.code == "exam_in_progress" and "交卷后" in exc.value.message
    assert services.practice_gate(learner, course, at).code == "exam_in_progress"
    # The second before the attempt stops taking answers it still blocks; from then on it does not.
    end = attempt.deadline + policy.SUBMIT_GRACE
    with pytest.raises(ExamError):
        services.practice_check(
            user=learner, question_id=q.pk, chosen=q.answer, at=end - timedelta(seconds=1)
        )
    assert services.practice_check(user=learner, question_id=q.pk, chosen=q.answer, at=end)["correct"]


def test_practice_refused_without_a_valid_enrolment(learner, course, practice):
    q = practice.first()
    with pytest.raises(ExamError) as exc:
        services.practice_check(user=learner, question_id=q.pk, chosen=q.answer)
    assert exc.value.code == "not_enrolled"


def test_exam_papers_never_draw_practice_questions(learner, course, paid, practice):
    make_bank(course, per_type=30, pool=policy.POOL_PRACTICE)  # practice outnumbers exam 4 to 1
    at = complete_chapters(learner, course)
    exam_ids = set(Question.objects.filter(course=course, pool=policy.POOL_EXAM).values_list("id", flat=True))
    seen = set()
    for n in range(5):
        a = services.attempt_start(user=learner, course=course, at=at, rng=random.Random(n))
        ids = set(a.items.values_list("question_id", flat=True))
        assert len(ids) == 30 and ids <= exam_ids
        seen |= ids
        services.attempt_submit(user=learner, attempt_id=a.pk, answers={}, at=at + timedelta(minutes=1))
        at += timedelta(minutes=2)
    assert not Question.objects.filter(pk__in=seen, pool=policy.POOL_PRACTICE).exists()


def test_a_practice_pool_alone_does_not_make_an_exam(learner, year, paid):
    """Exam questions are counted for "the bank is ready": practice ones never fill a paper."""
    small = make_course(year, "S2", bank=False)
    make_bank(small, per_type=10, pool=policy.POOL_PRACTICE)
    complete_chapters(learner, small)
    with pytest.raises(ExamError) as exc:
        services.attempt_start(user=learner, course=small)
    assert exc.value.code == "bank_too_small" and not Attempt.objects.exists()


def test_mock_and_chapter_exercises_hold_practice_questions_only(learner, course, paid, practice):
    chapter = course.chapters.get(position=1)
    Question.objects.filter(course=course, pool=policy.POOL_EXAM).update(chapter=chapter)  # tagged, yet exam
    mock = services.practice_questions(course=course, rng=random.Random(1))
    assert len(mock) == 30 and {p["question"].pool for p in mock} == {policy.POOL_PRACTICE}
    exercises = services.practice_questions(course=course, chapter=chapter, rng=random.Random(1))
    assert len(exercises) == 3 and {p["question"].pool for p in exercises} == {policy.POOL_PRACTICE}


def test_the_paper_and_the_result_never_carry_answers(client, learner, course, paid):
    complete_chapters(learner, course)
    _login(client, learner)
    client.post(reverse("exams:start", args=[course.pk]))
    attempt = Attempt.objects.get(user=learner, status="open")
    items = list(attempt.items.select_related("question").order_by("position"))
    page = client.get(reverse("exams:attempt", args=[attempt.pk])).content.decode()
    assert page.count('class="q"') == 30
    assert " checked" not in page and not any(word in page for word in REVEALING)
    assert "answer" not in page.replace("answered", "")
    for item in items:
        if item.question.explanation:
            assert item.question.explanation not in page
    client.post(reverse("exams:submit", args=[attempt.pk]), {})
    result = client.get(reverse("exams:result", args=[attempt.pk])).content.decode()
    assert "0 分" in result and not any(word in result for word in REVEALING)
    assert not any(i.question.explanation and i.question.explanation in result for i in items)
