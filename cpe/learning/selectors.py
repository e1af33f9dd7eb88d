from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from django.db.models import Count, FilteredRelation, Q, QuerySet
from django.utils import timezone

from cpe.catalog.models import Chapter, Course, TrainingYear
from cpe.core.rows import FixedQuery

from . import hooks, policy
from .models import Enrolment, EnrolmentStatus

if TYPE_CHECKING:
    from cpe.accounts.models import User

# The dashboard's enrolments, and the published courses of the years the learner is enrolled
# in, each compiled once per process (cpe.core.rows).
_enrolments_for_dashboard = FixedQuery(
    lambda user_id: (
        Enrolment.objects.filter(user_id=user_id)
        .select_related("product__course", "year", "order")
        .order_by("-valid_from")
    ),
    user_id=int,
)
_published_courses_of_enrolled_years = FixedQuery(
    lambda user_id: Course.objects.filter(
        is_published=True, year_id__in=Enrolment.objects.filter(user_id=user_id).values("year_id")
    ).order_by("position", "id"),
    user_id=int,
)


def enrolments_for_dashboard(
    user: User, at: datetime | None = None, *, passed: Collection[int] = frozenset()
) -> list[Enrolment]:
    """The learner's enrolments with their state (valid / expired / closed), newest first.
    `passed`: the ids of the courses the learner has passed (credits records them and passes
    them in: credits sits above learning)."""
    at = at or timezone.now()
    rows = []
    enrolments = _enrolments_for_dashboard(user_id=user.pk)
    by_year: dict[int, list[Course]] = {}
    if any(not e.product.course_id for e in enrolments):  # an annual product: its year's courses
        for c in _published_courses_of_enrolled_years(user_id=user.pk):
            by_year.setdefault(c.year_id, []).append(c)
    for e in enrolments:
        e.state = policy.enrolment_state(
            closed=e.status == EnrolmentStatus.CLOSED,
            window=policy.Window(e.valid_from, e.valid_until),
            at=at,
        )
        # Days left, counting a started day as a day ("剩余 90 天" right after paying for 90).
        e.days_left = -((at - e.valid_until) // timedelta(days=1)) if e.state == "valid" else 0
        # The courses it opens: all the year's courses, or the one course (rules R3.3).
        e.courses = [e.product.course] if e.product.course_id else list(by_year.get(e.year_id, ()))
        for c in e.courses:
            c.passed = c.pk in passed
        # Every course it opens passed (credits recorded): no longer "学习中".
        e.all_passed = bool(e.courses) and all(c.passed for c in e.courses)
        rows.append(e)
    return rows


def enrolments_covering(user: User, chapter_or_course: Chapter | Course) -> QuerySet[Enrolment]:
    """The learner's enrolments whose product opens this chapter's (or course's) course: the
    year's annual product, or that single course (rules R3.3). Newest first."""
    from django.db.models import Q

    course = chapter_or_course.course if isinstance(chapter_or_course, Chapter) else chapter_or_course
    return (
        Enrolment.objects.filter(user=user, year_id=course.year_id)
        .filter(Q(product__kind="annual") | Q(product__course_id=course.pk))
        .select_related("product")
        .order_by("-valid_until")
    )


def _covering(user_id: int, year_id: int, course_id: int) -> QuerySet[Enrolment]:
    from django.db.models import Q

    return (
        Enrolment.objects.filter(user_id=user_id, year_id=year_id)
        .filter(Q(product__kind="annual") | Q(product__course_id=course_id))
        .select_related("product")
        .order_by("-valid_until")
    )


# enrolments_covering's query, compiled once per process (cpe.core.rows): every learner page.
_enrolments_covering = FixedQuery(_covering, user_id=int, year_id=int, course_id=int)


def enrolment_for(
    user: User, chapter_or_course: Chapter | Course, at: datetime
) -> tuple[Enrolment | None, str]:
    """(enrolment, state): a usable enrolment if there is one, else the most telling refusal:
    expired, closed, not started, or (None, "not_enrolled")."""
    best: tuple[Enrolment | None, str] | None = None
    course = chapter_or_course.course if isinstance(chapter_or_course, Chapter) else chapter_or_course
    for e in _enrolments_covering(user_id=user.pk, year_id=course.year_id, course_id=course.pk):
        state = policy.enrolment_state(
            closed=e.status == EnrolmentStatus.CLOSED,
            window=policy.Window(e.valid_from, e.valid_until),
            at=at,
        )
        if state == "valid":
            return e, state
        if best is None:
            best = (e, state)
    return best or (None, "not_enrolled")


def _progress_queries() -> tuple[FixedQuery, FixedQuery, FixedQuery]:
    from .models import ChapterProgress

    chapters = FixedQuery(
        lambda course_id: (
            Chapter.objects.filter(course_id=course_id).select_related("video").order_by("position")
        ),
        course_id=int,
    )
    progress = FixedQuery(
        lambda user_id, course_id: ChapterProgress.objects.filter(
            user_id=user_id, chapter__course_id=course_id
        ),
        user_id=int,
        course_id=int,
    )
    # Chapters in the year's published courses, and how many of them this learner completed, in
    # one statement: each chapter joined to at most one row of the learner's progress (one per
    # learner and chapter, the model's constraint), the learner's id in the join's condition.
    year = FixedQuery(
        lambda user_id, year_id: (
            Chapter.objects.annotate(
                mine=FilteredRelation(
                    "progress",
                    condition=Q(progress__user_id=user_id, progress__completed_at__isnull=False),
                )
            )
            .filter(course__year_id=year_id, course__is_published=True)
            .values("course__year_id")
            .annotate(n=Count("id"), done=Count("mine__id"))
            .values_list("n", "done")
        ),
        user_id=int,
        year_id=int,
    )
    return chapters, progress, year


# The course, player and exam pages' fixed queries, compiled once per process (cpe.core.rows).
_chapters_of, _progress_of, _year_chapters = _progress_queries()


_published_course = FixedQuery(
    lambda course_id: Course.objects.select_related("year").filter(pk=course_id, is_published=True),
    course_id=int,
)
_published_chapter = FixedQuery(
    lambda chapter_id: Chapter.objects.select_related("course__year").filter(
        pk=chapter_id, course__is_published=True
    ),
    chapter_id=int,
)


def published_course_or_404(course_id: int) -> Course:
    """The published course with its year (the course and exam pages), else Http404."""
    return _one_or_404(_published_course(course_id=course_id), Course)


def published_chapter_or_404(chapter_id: int) -> Chapter:
    """The chapter of a published course, with the course and its year (the player), else Http404."""
    return _one_or_404(_published_chapter(chapter_id=chapter_id), Chapter)


Row = TypeVar("Row", Course, Chapter)


def _one_or_404(rows: list[Row], model: type[Row]) -> Row:
    from django.http import Http404

    if not rows:
        raise Http404(f"No {model._meta.object_name} matches the given query.")
    return rows[0]


def course_progress(user: User, course: Course) -> list[Chapter]:
    """The course's chapters in order, each with the learner's progress (share, complete)."""
    chapters = _chapters_of(course_id=course.pk)
    progress = {p.chapter_id: p for p in _progress_of(user_id=user.pk, course_id=course.pk)}
    for ch in chapters:
        ch.course = course  # as course.chapters gives them (no query for chapter.course)
        p = progress.get(ch.pk)
        ch.progress_row = p
        ch.completed = bool(p and p.completed_at)
        duration = _duration(ch)
        ch.share = policy.watched_share(p.intervals if p else [], duration)
        ch.percent = int(ch.share * 100)
    return chapters


def _duration(chapter: Chapter) -> float:
    """The length progress is measured against: the transcoded video's probed duration once it
    is ready, the catalog's figure before."""
    from django.core.exceptions import ObjectDoesNotExist

    try:
        video = chapter.video
    except ObjectDoesNotExist:
        video = None
    if video is not None and video.is_ready and video.duration:
        return float(video.duration)
    return float(chapter.duration_seconds)


chapter_duration = _duration


def year_progress(user: User, year: TrainingYear) -> dict[str, int]:
    """Chapters completed / chapters in the year's published courses (hours come with exams)."""
    rows = _year_chapters(user_id=user.pk, year_id=year.pk)  # one row, or none: no chapter yet
    total, done = rows[0] if rows else (0, 0)
    return {"total": total, "done": done}


def banned_user_ids(user_ids: Iterable[int], at: datetime) -> set[int]:
    """Which of these accounts an account ban holds now ([starts_at, ends_at), not lifted),
    read from the database (the truth; the moderation memo may be seconds old in this process):
    moderation.selectors.banned_user_ids, registered by ModerationConfig.ready (moderation sits
    above learning)."""
    ids = list(user_ids)
    if not ids:
        return set()
    return hooks.banned_user_ids(ids, at)


def account_standing(user: User, at: datetime, *, banned: bool | None = None) -> str:
    """policy.account_standing for this user row ("" when it may study now)."""
    if banned is None:
        banned = user.pk in banned_user_ids([user.pk], at)
    return policy.account_standing(
        is_staff=user.is_staff,
        status=user.status,
        is_active=user.is_active,
        on_hold=user.on_hold,
        banned=banned,
    )
