"""Orders made directly with the ORM, paid at a given instant (the orders services are not
what these tests are about)."""

import itertools
from datetime import timedelta

from cpe.catalog.models import Product, TrainingYear
from cpe.core.timewin import local_date
from cpe.orders.models import Order

_seq = itertools.count(1)


def make_order(user, *, paid_at, amount_fen=19800, status="paid", number=None) -> Order:
    year, _ = TrainingYear.objects.get_or_create(year=local_date(paid_at).year)
    product, _ = Product.objects.get_or_create(
        code=f"ANNUAL-{year.year}",
        defaults={"title": f"{year.year} 年度会计人员继续教育课程", "year": year, "price_fen": amount_fen},
    )
    return Order.objects.create(
        number=number or f"CPE{local_date(paid_at):%Y%m%d}{next(_seq):06d}",
        user=user,
        product=product,
        subject=product.title,
        amount_fen=amount_fen,
        validity_days=90,
        status=status,
        paid_at=paid_at if status != "pending" else None,
        created_at=paid_at - timedelta(minutes=3),
    )
