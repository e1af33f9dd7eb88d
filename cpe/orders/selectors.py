from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils import timezone

from cpe.catalog.models import Chapter, Course, Product, TrainingYear
from cpe.core.rows import FixedQuery
from cpe.credits.models import CreditRecord, RecordStatus
from cpe.credits.policy import YearStatus
from cpe.credits.selectors import year_complete, year_status_for
from cpe.exams.models import Attempt, AttemptStatus
from cpe.exams.policy import answers_accepted
from cpe.learning.models import ChapterProgress, Enrolment, EnrolmentStatus
from cpe.reporting.models import AisReport
from cpe.reporting.selectors import report_states_for_user
from cpe.reporting.states import ReportKind, ReportState

from .models import Order, Refund
from .policy import RefundReview
from .states import OrderStatus

if TYPE_CHECKING:
    from cpe.accounts.models import User


def holds_valid(user: User, product: Product, at: datetime) -> bool:
    return Enrolment.objects.filter(
        user=user, product=product, status=EnrolmentStatus.ACTIVE, valid_from__lte=at, valid_until__gt=at
    ).exists()


def covered_by_annual(user: User, product: Product, at: datetime) -> bool:
    """A single course whose year's annual course the learner holds valid."""
    if not product.course_id:
        return False
    return Enrolment.objects.filter(
        user=user,
        year_id=product.year_id,
        product__kind="annual",
        status=EnrolmentStatus.ACTIVE,
        valid_from__lte=at,
        valid_until__gt=at,
    ).exists()


_valid_enrolments = FixedQuery(  # compiled once per process (cpe.core.rows): the catalogue
    lambda user_id, starts_by, ends_after: Enrolment.objects.filter(
        user_id=user_id, status=EnrolmentStatus.ACTIVE, valid_from__lte=starts_by, valid_until__gt=ends_after
    ).values_list("product_id", "product__kind", "year_id"),
    user_id=int,
    starts_by=datetime,
    ends_after=datetime,
)


_course_products_of_year = FixedQuery(
    lambda year_id: Product.objects.filter(year_id=year_id, course__isnull=False).values_list(
        "pk", flat=True
    ),
    year_id=int,
)


def products_held(user: User, at: datetime) -> dict[int, str]:
    """For the catalogue: {product id: "held"} for the products the learner holds valid now, and
    {product id: "included"} for each single course that a valid annual course of its year
    already opens (buying it would be refused: policy.purchase_decision). Two small queries."""

    valid = _valid_enrolments(user_id=user.pk, starts_by=at, ends_after=at)
    out: dict[int, str] = {pid: "held" for pid, _, _ in valid}
    annual_years = {year for _, kind, year in valid if kind == "annual"}
    included: Iterable[int]
    if len(annual_years) == 1:  # the usual case: its query compiled once per process
        included = _course_products_of_year(year_id=next(iter(annual_years)))
    elif annual_years:
        included = Product.objects.filter(year_id__in=annual_years, course__isnull=False).values_list(
            "pk", flat=True
        )
    else:
        included = ()
    for pid in included:
        out.setdefault(pid, "included")
    return out


def year_task_complete(user: User, year: TrainingYear) -> bool:
    """Whether the learner has completed the year's training task, from the credit ledger
    (credits.policy.year_status: required hours and the professional minimum)."""

    return year_complete(user, year)


def credits_under_order(order: Order) -> dict[str, int]:
    """The learner's own active credit records under an order: how many, how many hours, and
    how many already reported to the AIS (a receipt came back), for the refund page."""

    records = list(
        CreditRecord.objects.filter(order=order, status=RecordStatus.ACTIVE).values_list("pk", "hours")
    )
    reported = (
        AisReport.objects.filter(
            record_id__in=[pk for pk, _ in records], kind=ReportKind.CREDIT, state=ReportState.SENT
        ).count()
        if records
        else 0
    )
    return {"records": len(records), "hours": sum(h for _, h in records), "reported": reported}


def bought_year_ids(user: User) -> set[int]:
    """The training years of the learner's paid orders (announcements to a year's buyers,
    registered with notices by OrdersConfig.ready)."""
    paid = Order.objects.filter(user=user, status=OrderStatus.PAID)
    return set(paid.values_list("product__year_id", flat=True))


def _orders_of(user_id: int) -> QuerySet[Order]:
    return (
        Order.objects.filter(user_id=user_id)
        .select_related("product", "product__year", "enrolment")
        .order_by("-created_at")
    )


# Compiled once per process (cpe.core.rows): the order list's orders and their refunds.
_orders_listed = FixedQuery(_orders_of, user_id=int)
_refunds_of = FixedQuery(
    lambda user_id: Refund.objects.filter(order__user_id=user_id).order_by("-requested_at"), user_id=int
)


def orders_of(user: User) -> list[Order]:
    """The learner's orders, newest first, with product, year and enrolment; each order's
    refunds, newest first, in `refund_list` (two queries)."""
    orders = _orders_listed(user_id=user.pk)
    refunds = defaultdict(list)
    for r in _refunds_of(user_id=user.pk):
        refunds[r.order_id].append(r)
    for o in orders:
        o.refund_list = refunds[o.pk]
    return orders


class RefundEvidence:
    """What finance weighs beside a refund request (one learner, one order): the AIS status,
    each course the order opened with its watched chapters, passed exam and credit record (and
    that record's AIS report state), the year's hours, and the policy's verdict with reasons."""

    def __init__(
        self, *, ais_status: str, courses: list[dict], year_status: YearStatus, review: RefundReview
    ) -> None:
        self.ais_status = ais_status
        self.courses = courses
        self.year_status = year_status
        self.review = review


def refund_evidence(refund: Refund) -> RefundEvidence:
    """A bounded number of queries, whatever the number of courses and attempts."""

    from . import policy

    order = Order.objects.select_related("user", "product__year", "product__course").get(pk=refund.order_id)
    user, product, year = order.user, order.product, order.product.year
    courses = (
        [product.course]
        if product.course is not None
        else list(Course.objects.filter(year=year, is_published=True).order_by("position", "id"))
    )
    course_ids = [c.pk for c in courses]
    chapters = list(Chapter.objects.filter(course_id__in=course_ids).values_list("pk", "course_id"))
    done = set(
        ChapterProgress.objects.filter(
            user=user, chapter_id__in=[pk for pk, _ in chapters], completed_at__isnull=False
        ).values_list("chapter_id", flat=True)
    )
    best: dict[int, tuple[bool, int]] = {}
    for course_id, score, passed in Attempt.objects.filter(
        user=user, course_id__in=course_ids, submitted_at__isnull=False
    ).values_list("course_id", "score", "passed"):
        held = best.get(course_id, (False, -1))
        best[course_id] = max(held, (bool(passed), score or 0))

    now = timezone.now()
    in_progress = {
        course_id
        for course_id, deadline in Attempt.objects.filter(
            user=user, course_id__in=course_ids, status=AttemptStatus.OPEN
        ).values_list("course_id", "deadline")
        if answers_accepted(deadline, now)
    }
    records = {
        r.course_id: r for r in CreditRecord.objects.filter(order=order).order_by("status", "-passed_at")
    }
    report = report_states_for_user(user)
    rows: list[dict] = []
    for c in courses:
        ch = [pk for pk, cid in chapters if cid == c.pk]
        record = records.get(c.pk)
        passed, score = best.get(c.pk, (False, -1))
        rows.append(
            {
                "course": c,
                "chapters_total": len(ch),
                "chapters_done": sum(1 for pk in ch if pk in done),
                "exam": policy.exam_evidence_label(
                    passed=passed, best_score=score if score >= 0 else None, in_progress=c.pk in in_progress
                ),
                "record": record,
                "report": (report[record.pk].label if record is not None and record.pk in report else ""),
            }
        )
    # The credits and AIS reports under the order: the learner's refund page counts them alike.
    earned = credits_under_order(order)
    status = year_status_for(user, year)
    review = policy.refund_review(
        paid_at=order.paid_at,  # type: ignore[arg-type]  # a refund is only ever asked of a paid order
        requested_at=refund.requested_at,
        year_complete=status.complete,
        earned_hours=status.total_hours,
        required_hours=status.required_hours,
        records=earned["records"],
        record_hours=earned["hours"],
        records_reported=earned["reported"],
    )
    return RefundEvidence(
        ais_status=user.get_ais_status_display(), courses=rows, year_status=status, review=review
    )
