from django import template

from cpe.accounts.policy import hold_allows

from .. import policy

register = template.Library()


@register.inclusion_tag("exams/_exam_link.html", takes_context=True)
def exam_link(context, course, chapters):
    """【我要考试】 on a course page: the link when the exam is open, else what is missing. The
    course page is only shown under a valid enrolment; the exam page re-checks everything."""
    user = context["request"].user
    done = sum(1 for c in chapters if c.completed)
    decision = policy.exam_eligibility(
        is_staff=user.is_staff,
        on_hold=not hold_allows("exam", on_hold=user.on_hold),
        enrolment_state="valid",
        chapters_total=len(chapters),
        chapters_done=done,
        attempts_used=0,
        max_attempts=None,
    )
    return {"course": course, "decision": decision, "todo": [c for c in chapters if not c.completed]}
