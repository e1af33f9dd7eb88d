"""The learner pages' read side (cpe/learning/selectors.py)."""

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_year_progress_counts_the_years_published_chapters_and_this_learners_completed_ones(
    annual, learner, other_learner
):
    """One statement gives both numbers (the course and player pages): chapters of the year's
    published courses, and those this learner completed; another learner's progress, a chapter
    begun but not complete, an unpublished course and another year count for nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cpe.catalog.models import Course
    from cpe.catalog.tests.factories import ChapterFactory, CourseFactory, TrainingYearFactory
    from cpe.learning.models import ChapterProgress
    from cpe.learning.selectors import year_progress

    year = annual.year
    assert year_progress(learner, year) == {"total": 0, "done": 0}  # no chapter yet
    c1 = Course.objects.get(code="C1")
    a, b, c = (ChapterFactory(course=c1, position=p) for p in (1, 2, 3))
    hidden = ChapterFactory(course=CourseFactory(year=year, code="H1", is_published=False), position=1)
    elsewhere = ChapterFactory(
        course=CourseFactory(year=TrainingYearFactory(year=2025), code="Y1"), position=1
    )
    now = timezone.now()
    for user, chapter, done in (
        (learner, a, now),
        (learner, b, None),  # begun, not complete
        (learner, hidden, now),
        (learner, elsewhere, now),
        (other_learner, a, now),
        (other_learner, c, now),
    ):
        ChapterProgress.objects.create(user=user, chapter=chapter, completed_at=done)
    with CaptureQueriesContext(connection) as queries:
        assert year_progress(learner, year) == {"total": 3, "done": 1}
    assert len(queries) == 1
    assert year_progress(other_learner, year) == {"total": 3, "done": 2}
