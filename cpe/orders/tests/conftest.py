from datetime import timedelta

import pytest
from django.utils import timezone


@pytest.fixture
def annual(db):
    from cpe.catalog.models import Course, Product, ProductKind, TrainingYear

    year = TrainingYear.objects.create(year=2026)
    Course.objects.create(year=year, code="C1", title="会计准则", category="professional", credit_hours=24)
    return Product.objects.create(
        code="2026-ANNUAL", title="2026 年度课程", kind=ProductKind.ANNUAL, year=year, price_fen=19800
    )


@pytest.fixture
def learner(register_learner):
    from cpe.accounts.models import User

    user = register_learner()
    User.objects.filter(pk=user.pk).update(ais_status="found")
    user.refresh_from_db()
    return user


@pytest.fixture
def paid_order(learner, annual):
    """An order paid through payment_confirm (the path a verified notification takes)."""
    from cpe.orders.gateways.base import PaymentNotice
    from cpe.orders.services import order_create, payment_confirm

    order = order_create(user=learner, product_code=annual.code)
    payment_confirm(
        gateway_name="alipay",
        notice=PaymentNotice(
            order_number=order.number,
            gateway_txn_id="T" + order.number,
            amount_fen=order.amount_fen,
            paid_at=timezone.now() - timedelta(minutes=1),
        ),
    )
    order.refresh_from_db()
    return order
