"""Learner exam pages: 【我要考试】, the paper (countdown + autosave), the result, practice.
Parse, check, call one service, render; the rules are in policy.py."""

from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from cpe.catalog.models import Chapter, Course
from cpe.core.decorators import learner_required
from cpe.core.rows import FixedQuery
from cpe.credits.models import CreditRecord
from cpe.learning import selectors as learning_selectors

from . import policy, services
from .errors import ExamError
from .models import Attempt, AttemptStatus

_attempts_of = FixedQuery(  # compiled once per process (cpe.core.rows)
    lambda user_id, course_id: Attempt.objects.filter(user_id=user_id, course_id=course_id).order_by(
        "-started_at"
    ),
    user_id=int,
    course_id=int,
)


@learner_required
def exam_home(request, course_id):
    """【我要考试】: the rules, what is missing, past attempts, and the start button."""
    course = learning_selectors.published_course_or_404(course_id)
    at = timezone.now()
    gate = services.exam_gate(request.user, course, at)
    # An overdue open attempt is graded now, and shown graded (not 继续考试) on this page.
    attempts = [
        services.attempt_close_if_overdue(a, at) if a.is_open else a
        for a in _attempts_of(user_id=request.user.pk, course_id=course.pk)
    ]
    rules = gate.rules
    return render(
        request,
        "exams/home.html",
        {
            "course": course,
            "gate": gate,
            "rules": rules,
            "attempts": attempts,
            "open_attempt": next((a for a in attempts if a.status == AttemptStatus.OPEN), None),
            "parts": [(policy.TYPE_LABELS[p.qtype], p.count, p.points) for p in rules.composition],
            "minutes": int(rules.time_limit.total_seconds() // 60),
            "attempts_left": policy.attempts_left(gate.attempts_used, rules.max_attempts),
            "passed_once": any(a.passed for a in attempts),
        },
    )


@learner_required
@require_POST
def exam_start(request, course_id):
    course = get_object_or_404(Course, pk=course_id, is_published=True)
    try:
        attempt = services.attempt_start(user=request.user, course=course)
    except ExamError as exc:
        gate = services.exam_gate(request.user, course, timezone.now())
        return render(
            request,
            "exams/home.html",
            {
                "course": course,
                "gate": gate,
                "error": exc.message,
                "rules": gate.rules,
                "attempts": [],
                "parts": [],
            },
            status=403,
        )
    return redirect("exams:attempt", attempt.pk)


def _own_attempt(request, attempt_id):
    attempt = Attempt.objects.select_related("course").filter(pk=attempt_id, user=request.user).first()
    if attempt is None:
        raise Http404("考试记录不存在。")
    return attempt


@learner_required
@never_cache
def attempt_page(request, attempt_id):
    attempt = services.attempt_close_if_overdue(_own_attempt(request, attempt_id))
    if attempt.status != AttemptStatus.OPEN:
        return redirect("exams:result", attempt.pk)
    at = timezone.now()
    items = list(attempt.items.select_related("question").order_by("position"))
    for item in items:
        q = item.question
        item.shown = [
            (orig, "ABCDEFGH"[i] if item.qtype != policy.JUDGE else "", q.options[orig], orig in item.answer)
            for i, orig in enumerate(item.option_order)
        ]
        item.type_label = policy.TYPE_LABELS[item.qtype]
    return render(
        request,
        "exams/attempt.html",
        {
            "attempt": attempt,
            "items": items,
            "seconds_left": policy.seconds_left(attempt.deadline, at),
            "answered": sum(1 for i in items if i.answer),
        },
    )


def _chosen(request, name):
    out = []
    for v in request.POST.getlist(name):
        try:
            out.append(int(v))
        except ValueError:
            pass
    return out


@learner_required
@require_POST
def attempt_save(request, attempt_id):
    """Autosave of one answer (fetch from the page's script). JSON in the answer."""
    try:
        position = int(request.POST.get("position", ""))
    except ValueError:
        return JsonResponse({"ok": False, "message": "题号无效。"}, status=400)
    try:
        item = services.attempt_answer_save(
            user=request.user, attempt_id=attempt_id, position=position, chosen=_chosen(request, "chosen")
        )
    except ExamError as exc:
        status = 404 if exc.code in ("no_attempt", "no_item") else 409
        return JsonResponse({"ok": False, "code": exc.code, "message": exc.message}, status=status)
    return JsonResponse({"ok": True, "position": item.position, "saved_at": item.saved_at.isoformat()})


def _paper_answers(request) -> dict:
    """The submitted form's answers, position -> chosen option indexes (fields q1, q2, ...)."""
    out = {}
    for name in request.POST:
        if name[:1] == "q" and name[1:].isascii() and name[1:].isdigit():
            out[int(name[1:])] = _chosen(request, name)
    return out


@learner_required
@require_POST
def attempt_submit(request, attempt_id):
    """The form carries the whole paper: a question it sends nothing for was left unanswered.
    The service finds the learner's own attempt under its lock (anyone else's: 404)."""
    try:
        attempt = services.attempt_submit(
            user=request.user, attempt_id=attempt_id, answers=_paper_answers(request), whole_paper=True
        )
    except ExamError as exc:
        raise Http404(exc.message) from exc
    return redirect("exams:result", attempt.pk)


@learner_required
def attempt_result(request, attempt_id):
    attempt = services.attempt_close_if_overdue(_own_attempt(request, attempt_id))
    if attempt.status == AttemptStatus.OPEN:
        return redirect("exams:attempt", attempt.pk)
    items = list(attempt.items.order_by("position"))
    record = getattr(attempt, "credit_record", None) if attempt.passed else None

    earlier = None
    if attempt.passed and record is None:
        earlier = CreditRecord.objects.filter(
            user=request.user, course=attempt.course, status="active"
        ).first()
    return render(
        request,
        "exams/result.html",
        {
            "attempt": attempt,
            "record": record,
            "earlier": earlier,
            "wrong": [i.position for i in items if not i.earned],
            "correct": sum(1 for i in items if i.earned),
            "total": len(items),
        },
    )


# --- practice ---------------------------------------------------------------------------------
def _practice_refused(request, course, decision):
    open_attempt = None
    if decision.code == "exam_in_progress":
        open_attempt = (
            Attempt.objects.filter(user=request.user, status=AttemptStatus.OPEN)
            .order_by("-started_at")
            .first()
        )
    return render(
        request,
        "exams/practice.html",
        {"course": course, "refusal": decision.message, "open_attempt": open_attempt},
        status=403,
    )


@learner_required
def practice_chapter(request, chapter_id):
    chapter = get_object_or_404(
        Chapter.objects.select_related("course"), pk=chapter_id, course__is_published=True
    )
    decision = services.practice_gate(request.user, chapter.course, timezone.now())
    if not decision.allowed:
        return _practice_refused(request, chapter.course, decision)
    return render(
        request,
        "exams/practice.html",
        {
            "course": chapter.course,
            "chapter": chapter,
            "title": f"章节练习：{chapter.title}",
            "questions": services.practice_questions(course=chapter.course, chapter=chapter),
        },
    )


@learner_required
def practice_mock(request, course_id):
    course = get_object_or_404(Course, pk=course_id, is_published=True)
    decision = services.practice_gate(request.user, course, timezone.now())
    if not decision.allowed:
        return _practice_refused(request, course, decision)
    return render(
        request,
        "exams/practice.html",
        {
            "course": course,
            "title": f"模考题：{course.title}",
            "mock": True,
            "questions": services.practice_questions(course=course),
        },
    )


@learner_required
@require_POST
def practice_check(request, question_id):
    """Feedback on one practice question. An exam question gets exactly the answer of an id that
    does not exist (404); while an exam is in progress nothing is revealed (403)."""
    try:
        result = services.practice_check(
            user=request.user, question_id=question_id, chosen=_chosen(request, "chosen")
        )
    except ExamError as exc:
        return render(
            request,
            "partials/message.html",
            {"level": "error", "text": exc.message},
            status=404 if exc.code == "not_found" else 403,
        )
    return render(request, "exams/_feedback.html", {"r": result, "q": result["question"]})
