"""再次购买 is offered on an expired order only when the product can be bought now, and the buy
page refuses at once (no confirm form) a product that is not for sale (rules R4.1)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


def _expire(order):
    from cpe.learning.models import Enrolment

    Enrolment.objects.filter(order=order).update(
        valid_from=timezone.now() - timedelta(days=400), valid_until=timezone.now() - timedelta(days=1)
    )


@pytest.mark.parametrize("year_open", [True, False])
def test_rebuy_is_offered_only_while_the_product_is_on_sale(client, learner, annual, paid_order, year_open):
    _expire(paid_order)
    annual.year.is_open = year_open
    annual.year.save(update_fields=["is_open"])
    client.force_login(learner)
    html = client.get(reverse("orders:list")).content.decode()
    assert ("再次购买" in html) is year_open
    assert (reverse("orders:buy", args=[annual.code]) in html) is year_open


def test_buy_page_says_at_once_a_closed_year_is_not_for_sale(client, learner, annual):
    annual.year.is_open = False
    annual.year.save(update_fields=["is_open"])
    client.force_login(learner)
    html = client.get(reverse("orders:buy", args=[annual.code])).content.decode()
    assert "该课程目前不在售。" in html
    assert "确认购买" not in html and "去支付" not in html


def test_buy_page_shows_the_confirm_form_for_a_product_on_sale(client, learner, annual):
    client.force_login(learner)
    html = client.get(reverse("orders:buy", args=[annual.code])).content.decode()
    assert "确认购买" in html and "去支付" in html and "不在售" not in html
