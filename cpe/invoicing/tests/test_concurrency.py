"""Two requests for the same order at once (PostgreSQL: real row locks) yield one invoice."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from cpe.invoicing import services
from cpe.invoicing.errors import InvoiceError
from cpe.invoicing.models import Invoice

from .factories import make_order


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_issue_one_invoice(learner):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    order = make_order(learner, paid_at=timezone.now() - timedelta(hours=1))
    barrier, results = threading.Barrier(2), []

    def request():
        try:
            barrier.wait()
            inv = services.invoice_request(user=learner, order_number=order.number, buyer_type="personal")
            results.append(("ok", inv.number))
        except InvoiceError as exc:
            results.append(("refused", exc.code))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r[0] for r in results) == ["ok", "refused"]
    assert [r[1] for r in results if r[0] == "refused"] == ["already_invoiced"]
    assert Invoice.objects.filter(order=order).count() == 1
