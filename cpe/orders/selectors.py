from django.db.models import Prefetch

from cpe.learning.models import Enrolment, EnrolmentStatus

from .models import Order, Refund
from .states import OrderStatus


def holds_valid(user, product, at) -> bool:
    return Enrolment.objects.filter(user=user, product=product, status=EnrolmentStatus.ACTIVE,
                                    valid_from__lte=at, valid_until__gt=at).exists()


def covered_by_annual(user, product, at) -> bool:
    """A single course whose year's annual course the learner holds valid."""
    if not product.course_id:
        return False
    return Enrolment.objects.filter(user=user, year_id=product.year_id, product__kind="annual",
                                    status=EnrolmentStatus.ACTIVE, valid_from__lte=at, valid_until__gt=at).exists()


def year_task_complete(user, year) -> bool:
    """Whether the learner has completed the year's training task, from the credit ledger
    (credits.policy.year_status: required hours and the professional minimum)."""
    from cpe.credits.selectors import year_complete

    return year_complete(user, year)


def bought_year_ids(user) -> set:
    """The training years of the learner's paid orders (announcements to a year's buyers,
    registered with notices by OrdersConfig.ready)."""
    paid = Order.objects.filter(user=user, status=OrderStatus.PAID)
    return set(paid.values_list("product__year_id", flat=True))


def orders_of(user):
    return (Order.objects.filter(user=user).select_related("product", "product__year", "enrolment")
            .prefetch_related(Prefetch("refunds", queryset=Refund.objects.order_by("-requested_at")))
            .order_by("-created_at"))
