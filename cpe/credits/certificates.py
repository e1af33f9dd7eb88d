"""Certificate PDFs: rendered on request from the certificate's stored facts (never edited),
with a QR code of the public verification URL (rules R8.4, R10)."""
from django.conf import settings
from django.urls import reverse

from cpe.core.documents import absolute_url, qr_svg_data_uri, render_pdf
from cpe.core.timewin import local_date

PDF_TEMPLATE = "credits/certificate_pdf.html"


def verify_url(cert) -> str:
    return absolute_url(reverse("credits:verify", args=[cert.number]))


def certificate_pdf(cert, *, id_masked: str = "") -> bytes:
    url = verify_url(cert)
    records = []
    if cert.kind == "year":
        records = list(cert.user.credit_records.filter(year=cert.year, status="active", created_at__lte=cert.issued_at)
                       .order_by("passed_at"))
    return render_pdf(PDF_TEMPLATE, {
        "cert": cert, "issued_on": local_date(cert.issued_at), "qr": qr_svg_data_uri(url), "verify_url": url,
        "id_masked": id_masked, "records": records, "site_name": settings.SITE_NAME,
        "passed_on": local_date(cert.record.passed_at) if cert.record_id else None,
    })
