"""Reads shared by pages, the orders app and tasks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils import timezone

from cpe.core.rows import FixedQuery
from cpe.orders.models import Order

from . import policy
from .models import Invoice
from .states import InvoiceKind, InvoiceStatus

if TYPE_CHECKING:
    from cpe.accounts.models import User


def invoices_of_user(user: User) -> QuerySet[Invoice]:
    """The learner's invoices, blue and red, newest first (one query, with order and original)."""
    return (
        Invoice.objects.filter(order__user=user)
        .select_related("order", "original")
        .order_by("-issued_at", "-id")
    )


def invoice_of_user(user: User, number: str) -> Invoice | None:
    return Invoice.objects.filter(order__user=user, number=number).select_related("order").first()


def invoice_by_token(token: str) -> Invoice | None:
    return Invoice.objects.filter(verify_token=token).select_related("original").first()


def order_of_user(user: User, order_number: str) -> Order | None:
    return Order.objects.filter(user=user, number=order_number).first()


@dataclass(frozen=True)
class OrderInvoiceState:
    """For the 我的订单 page: can this order be invoiced now, and if not, why."""

    can_request: bool
    code: str
    message: str
    last_day: date | None
    invoice: Invoice | None  # the valid blue invoice, if any


_valid_blue_of = FixedQuery(
    lambda user_id: Invoice.objects.valid_blue().filter(order__user_id=user_id), user_id=int
)


def invoice_state_for_orders(
    user: User, orders: Iterable[Order], at: datetime | None = None
) -> dict[int, OrderInvoiceState]:
    """Keyed by order pk. One query for all the orders' valid blue invoices (no N+1); orders of
    another user are left out."""
    at = at or timezone.now()
    orders = [o for o in orders if o.user_id == user.pk]
    # All the learner's valid blue invoices (a few rows; those of orders not asked about are
    # left unread), by a query compiled once per process (cpe.core.rows).
    valid = {inv.order_id: inv for inv in _valid_blue_of(user_id=user.pk)} if orders else {}
    states = {}
    for o in orders:
        inv = valid.get(o.pk)
        d = policy.invoice_decision(o.status, o.paid_at, inv is not None, at)
        states[o.pk] = OrderInvoiceState(d.allowed, d.code, d.message, d.last_day, inv)
    return states


def refunded_orders_with_valid_invoice() -> QuerySet[Order]:
    return Order.objects.filter(
        status=policy.ORDER_REFUNDED, invoices__kind=InvoiceKind.BLUE, invoices__status=InvoiceStatus.ISSUED
    ).distinct()
