"""The invoice cutoff every page may show comes from invoicing's own context processor (core
knows no app's rules)."""

import pytest
from django.urls import reverse

from cpe.core.context_processors import site
from cpe.invoicing import context_processors, policy


def test_the_cutoff_is_invoicings_fact_not_cores():
    assert context_processors.invoicing(None) == {
        "INVOICE_CUTOFF": f"次年 {policy.INVOICE_CUTOFF_MONTH} 月 {policy.INVOICE_CUTOFF_DAY} 日"
    }
    assert "INVOICE_CUTOFF" not in site(None)


@pytest.mark.django_db
def test_the_invoice_page_shows_the_cutoff(client, learner, monkeypatch):
    monkeypatch.setattr(context_processors, "INVOICE_CUTOFF_DAY", 30)
    client.force_login(learner)
    html = client.get(reverse("invoicing:list")).content.decode()
    assert "可在次年 3 月 30 日前申请开具" in html
