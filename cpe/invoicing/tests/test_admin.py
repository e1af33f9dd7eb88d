"""Finance staff see invoices read-only; a staff download of a PDF is audited."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from cpe.core.models import AuditEvent
from cpe.invoicing import services

from .factories import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(client, django_user_model):
    staff = django_user_model.objects.create_user("fin", "x", is_staff=True, name="财务")
    staff.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client.force_login(staff)
    return client


def test_finance_lists_filters_and_downloads_read_only(finance, learner, client, django_user_model):
    inv = services.invoice_request(
        user=learner,
        buyer_type="personal",
        order_number=make_order(learner, paid_at=timezone.now() - timedelta(hours=1)).number,
    )
    r = finance.get(reverse("admin:invoicing_invoice_changelist") + "?kind__exact=blue&status__exact=issued")
    assert r.status_code == 200 and inv.number in r.content.decode()
    r = finance.get(reverse("admin:invoicing_invoice_change", args=[inv.pk]))
    html = r.content.decode()
    assert r.status_code == 200 and 'name="buyer_name"' not in html and "下载 PDF" in html
    assert finance.get(reverse("admin:invoicing_invoice_add")).status_code == 403
    assert (
        finance.post(reverse("admin:invoicing_invoice_delete", args=[inv.pk]), {"post": "yes"}).status_code
        == 403
    )
    r = finance.get(reverse("admin:invoicing_invoice_pdf", args=[inv.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.filter(
        event_type="invoice.pdf_viewed_by_staff", subject_id=str(inv.pk)
    ).exists()


def test_staff_without_permission_cannot_download(client, learner, django_user_model):
    inv = services.invoice_request(
        user=learner,
        buyer_type="personal",
        order_number=make_order(learner, paid_at=timezone.now() - timedelta(hours=1)).number,
    )
    staff = django_user_model.objects.create_user("op", "x", is_staff=True, name="运营")
    client.force_login(staff)
    assert client.get(reverse("admin:invoicing_invoice_pdf", args=[inv.pk])).status_code == 403
    assert not AuditEvent.objects.filter(event_type="invoice.pdf_viewed_by_staff").exists()
