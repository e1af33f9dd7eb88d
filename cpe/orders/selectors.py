from django.db.models import Prefetch

from cpe.learning.models import Enrolment, EnrolmentStatus

from .models import Order, Refund


def holds_valid(user, product, at) -> bool:
    return Enrolment.objects.filter(user=user, product=product, status=EnrolmentStatus.ACTIVE,
                                    valid_from__lte=at, valid_until__gt=at).exists()


def covered_by_annual(user, product, at) -> bool:
    """A single course whose year's annual course the learner holds valid."""
    if not product.course_id:
        return False
    return Enrolment.objects.filter(user=user, year_id=product.year_id, product__kind="annual",
                                    status=EnrolmentStatus.ACTIVE, valid_from__lte=at, valid_until__gt=at).exists()


def products_held(user, at) -> dict:
    """For the catalogue: {product id: "held"} for the products the learner holds valid now, and
    {product id: "included"} for each single course that a valid annual course of its year
    already opens (buying it would be refused: policy.purchase_decision). Two small queries."""
    from cpe.catalog.models import Product

    valid = list(Enrolment.objects.filter(user=user, status=EnrolmentStatus.ACTIVE, valid_from__lte=at,
                                          valid_until__gt=at).values_list("product_id", "product__kind", "year_id"))
    out = {pid: "held" for pid, _, _ in valid}
    annual_years = {year for _, kind, year in valid if kind == "annual"}
    if annual_years:
        for pid in Product.objects.filter(year_id__in=annual_years, course__isnull=False).values_list("pk", flat=True):
            out.setdefault(pid, "included")
    return out


def year_task_complete(user, year) -> bool:
    """Whether the learner has completed the year's training task, from the credit ledger
    (credits.policy.year_status: required hours and the professional minimum)."""
    from cpe.credits.selectors import year_complete

    return year_complete(user, year)


def orders_of(user):
    return (Order.objects.filter(user=user).select_related("product", "product__year", "enrolment")
            .prefetch_related(Prefetch("refunds", queryset=Refund.objects.order_by("-requested_at")))
            .order_by("-created_at"))
