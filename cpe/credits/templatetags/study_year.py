"""{% load study_year %}: which training year a course's hours count for, and until when
(credits.policy.study_year_note), on the product, the order and the dashboard."""

from datetime import timedelta

from django import template
from django.utils import timezone

from cpe.core.timewin import local_date
from cpe.credits import policy

register = template.Library()


@register.inclusion_tag("credits/_study_year_note.html")
def study_year_note(year, valid_until=None, validity_days=None):
    """`year`: the course's training year (a TrainingYear or its number). Either the
    enrolment's `valid_until`, or the product's `validity_days` (the end if bought now)."""
    now = timezone.now()
    if valid_until is None:
        if validity_days is None:
            return {"note": ""}
        valid_until = now + timedelta(days=int(validity_days))
    return {
        "note": policy.study_year_note(
            course_year=int(getattr(year, "year", year)),
            valid_until=local_date(valid_until),
            today=local_date(now),
        )
    }
