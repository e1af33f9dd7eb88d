"""Invoice PDFs in an S3-compatible store (moto's server over HTTP, the real boto3 client): the
PDF is a private object; the owner and finance staff get it through a redirect to a short-lived
signed URL after the platform's check; nobody reads it without the signature."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from cpe.core.models import AuditEvent
from cpe.core.storage import PRIVATE_URL_TTL
from cpe.invoicing import services

from .factories import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(s3, learner):
    order = make_order(learner, paid_at=timezone.now() - timedelta(hours=1))
    return services.invoice_request(user=learner, order_number=order.number, buyer_type="personal")


def _signed(r, s3, inv):
    assert r.status_code == 302 and "no-store" in r["Cache-Control"]
    target = r["Location"]
    assert target.startswith(f"{s3.endpoint}/{s3.bucket}/private/documents/{inv.pdf.name}?")
    assert 0 < int(parse_qs(urlsplit(target).query)["X-Amz-Expires"][0]) <= PRIVATE_URL_TTL
    return target


def test_the_pdf_is_a_private_object_in_the_bucket(s3, invoice):
    key = f"private/documents/{invoice.pdf.name}"
    assert s3.keys() == [key] and invoice.pdf.name.startswith(
        f"invoices/{invoice.issued_at:%Y}/{invoice.number}-"
    )
    assert s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()[:4] == b"%PDF"
    assert requests.get(f"{s3.endpoint}/{s3.bucket}/{key}", timeout=10).status_code == 403


def test_finance_staff_download_through_a_signed_url_audited(s3, invoice, client, django_user_model):
    url = reverse("admin:invoicing_invoice_pdf", args=[invoice.pk])
    op = django_user_model.objects.create_user("op", "x", is_staff=True, name="运营")
    client.force_login(op)
    r = client.get(url)
    assert r.status_code == 403 and "Location" not in r
    assert not AuditEvent.objects.filter(event_type="invoice.pdf_viewed_by_staff").exists()
    fin = django_user_model.objects.create_user("fin", "x", is_staff=True, name="财务")
    fin.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client.force_login(fin)
    target = _signed(client.get(url), s3, invoice)
    got = requests.get(target, timeout=10)
    assert got.status_code == 200 and got.content[:4] == b"%PDF"
    assert (
        got.headers["Content-Type"] == "application/pdf"
        and "attachment" in got.headers["Content-Disposition"]
    )
    assert requests.get(target.split("?", 1)[0], timeout=10).status_code == 403
    assert AuditEvent.objects.filter(
        event_type="invoice.pdf_viewed_by_staff", subject_id=str(invoice.pk)
    ).exists()


def test_the_owner_downloads_and_another_learner_gets_no_link(
    s3,
    invoice,
    client,
    learner,
    other_learner,
):
    url = reverse("invoicing:pdf", args=[invoice.number])
    client.force_login(other_learner)
    r = client.get(url)
    assert r.status_code == 404 and "Location" not in r
    client.force_login(learner)
    got = requests.get(_signed(client.get(url), s3, invoice), timeout=10)
    assert got.status_code == 200 and got.content[:4] == b"%PDF"


def test_a_store_that_cannot_be_reached_answers_503_in_chinese(s3, invoice, client, learner, settings):
    from config.settings.storage import named_storages

    dead = {**s3.env, "S3_ENDPOINT_URL": "http://127.0.0.1:9"}  # nothing listens on the discard port
    settings.STORAGES = {**settings.STORAGES, **named_storages(dead)}
    client.force_login(learner)
    r = client.get(reverse("invoicing:pdf", args=[invoice.number]))
    assert r.status_code == 503 and "文件存储暂时无法访问" in r.content.decode() and "Location" not in r
