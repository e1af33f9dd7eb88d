"""The demo is built around the date it is seeded on (Asia/Shanghai), never a fixed year."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cpe.backoffice.demo import annual_code, demo_seed, demo_years, single_code

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _counts():
    from cpe.catalog.models import Course, Product
    from cpe.credits.models import Certificate, CreditRecord
    from cpe.orders.models import Order

    return [m.objects.count() for m in (Product, Course, Order, CreditRecord, Certificate)]


@pytest.mark.parametrize(
    "at, years",
    [
        (datetime(2027, 1, 1, 0, 0, tzinfo=SHANGHAI), (2026, 2027)),  # new year in Shanghai, 16:00 UTC
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=SHANGHAI), (2025, 2026)),
        (datetime(2028, 2, 29, 12, 0, tzinfo=SHANGHAI), (2027, 2028)),
    ],
)
def test_demo_years_follow_the_shanghai_date(at, years):
    assert demo_years(at) == years


@pytest.mark.django_db
def test_demo_offers_this_year_and_shows_last_years_record():
    from cpe.accounts.models import User
    from cpe.catalog.models import Product
    from cpe.credits.models import Certificate, CreditRecord
    from cpe.credits.selectors import year_status_for
    from cpe.invoicing import policy as invoicing_policy
    from cpe.orders.models import Order

    at = datetime(2027, 1, 2, 9, 0, tzinfo=SHANGHAI)
    demo_seed(history=True, at=at)
    codes = set(Product.objects.values_list("code", flat=True))
    assert {annual_code(2027), single_code(2027), annual_code(2026), single_code(2026)} <= codes
    assert not any(c.startswith("2025") for c in codes)
    from cpe.catalog.models import TrainingYear

    assert TrainingYear.objects.get(year=2027).is_open and not TrainingYear.objects.get(year=2026).is_open

    learner = User.objects.get(username="demo-learner")
    order = Order.objects.get(user=learner)
    assert order.product.code == annual_code(2026) and order.status == "paid"
    assert learner.date_joined <= order.paid_at
    status = year_status_for(learner, order.product.year)
    assert status.complete and status.total_hours == 90
    assert CreditRecord.objects.filter(user=learner, year__year=2026, status="active").count() == 5
    assert Certificate.objects.filter(user=learner, kind="year", number__startswith="ZS2026").exists()
    # Last year's order can still be invoiced until 31 March, and not from 1 April.
    assert invoicing_policy.invoice_decision(order.status, order.paid_at, False, at).allowed
    april = datetime(2027, 4, 1, 0, 0, tzinfo=SHANGHAI)
    assert not invoicing_policy.invoice_decision(order.status, order.paid_at, False, april).allowed

    before = _counts()
    demo_seed(history=True, at=at)  # idempotent
    assert _counts() == before


@pytest.mark.django_db
def test_seed_command_refuses_without_debug(settings):
    from django.core.management import CommandError, call_command

    from cpe.accounts.models import User

    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not User.objects.filter(username="admin").exists()


def test_demo_agreement_names_the_platform_by_its_own_name():
    """The agreement the demo publishes calls the platform what every page calls it (SITE_NAME),
    never by the name of the site the source text was written for."""
    from django.conf import settings

    from cpe.backoffice.demo import AGREEMENT_V1

    text = AGREEMENT_V1.read_text()
    assert "继续教育网" not in text
    assert text.count(settings.SITE_NAME) >= 10
