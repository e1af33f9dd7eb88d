"""Test factories of orders: an order paid the way a verified gateway notification pays it
(`order_create`, then `payment_confirm`), so the order, its payment, the enrolment and the audit
events are exactly what the payment service makes. Never create a paid Order row by hand where
the enrolment or the payment matters (`cpe/invoicing/tests/factories.py` makes bare rows for
the invoicing rules, which read only the order)."""

from datetime import timedelta

import factory
from django.utils import timezone

from cpe.orders.models import Order


class PaidOrderFactory(factory.Factory):
    """`PaidOrderFactory(user=…, product_code="2026-ANNUAL")`: created, then paid by Alipay
    `paid_before` ago (the notice's paid_at, unless `paid_at` is given)."""

    class Meta:
        model = Order

    user = None
    product_code = "2026-ANNUAL"
    ais_confirmed = False
    paid_at = None
    paid_before = timedelta(minutes=1)
    gateway = "alipay"

    @classmethod
    def _create(cls, model_class, *, user, product_code, ais_confirmed, paid_at, paid_before, gateway):
        from cpe.orders.gateways.base import PaymentNotice
        from cpe.orders.services import order_create, payment_confirm

        order = order_create(user=user, product_code=product_code, ais_confirmed=ais_confirmed)
        payment_confirm(
            gateway_name=gateway,
            notice=PaymentNotice(
                order_number=order.number,
                gateway_txn_id="T" + order.number,
                amount_fen=order.amount_fen,
                paid_at=paid_at or timezone.now() - paid_before,
            ),
        )
        order.refresh_from_db()
        return order


def pay(user, product_code="2026-ANNUAL", paid_at=None):
    """The learner buys and pays for a product (confirming the AIS notice), paid five minutes ago
    unless `paid_at` says when."""
    return PaidOrderFactory(
        user=user,
        product_code=product_code,
        ais_confirmed=True,
        paid_at=paid_at,
        paid_before=timedelta(minutes=5),
    )
