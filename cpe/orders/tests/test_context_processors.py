"""The refund window and the payment time limit every page may show come from orders' own context
processor (core knows no app's rules)."""

from datetime import timedelta

import pytest
from django.urls import reverse

from cpe.core.context_processors import site
from cpe.orders import context_processors, policy


def test_the_numbers_are_orders_facts_not_cores():
    assert context_processors.orders(None) == {
        "REFUND_DAYS": policy.REFUND_WINDOW.days,
        "ORDER_PAY_MINUTES": 30,
    }
    assert not {"REFUND_DAYS", "ORDER_PAY_MINUTES"} & set(site(None))


@pytest.mark.django_db
def test_the_agreement_page_shows_the_refund_window(client, monkeypatch):
    monkeypatch.setattr(context_processors, "REFUND_WINDOW", timedelta(days=9))
    html = client.get(reverse("agreements:closed")).content.decode()
    assert "付款未满 9 日" in html
