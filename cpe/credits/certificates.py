"""Certificate PDFs: rendered on request from the certificate's stored facts (never edited),
with a QR code of the public verification URL (rules R8.4, R10)."""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from cpe.core.documents import absolute_url, qr_svg_data_uri, render_pdf
from cpe.core.timewin import local_date

from . import policy, selectors

PDF_TEMPLATE = "credits/certificate_pdf.html"


def verify_url(cert) -> str:
    return absolute_url(reverse("credits:verify", args=[cert.number]))


def certificate_statement(cert, *, at=None) -> dict:
    """What a certificate states, as of `at` (now): the year certificate's lead sentence and,
    for both kinds, the sentence about the AIS (credits.policy decides every word)."""
    at = at or timezone.now()
    records = selectors.certificate_records(cert)
    lead = ""
    if cert.kind == "year":
        lead = policy.year_certificate_lead(
            year=cert.year.year,
            hours=cert.hours,
            credits=cert.credits,
            professional_hours=cert.professional_hours,
            public_hours=cert.public_hours,
            required_hours=cert.year.required_hours,
            professional_min_hours=cert.year.professional_min_hours,
        )
    report_line = policy.certificate_report_line(
        selectors.certificate_report_facts(cert, records), as_of=local_date(at)
    )
    return {"lead": lead, "report_line": report_line, "records": records if cert.kind == "year" else []}


def certificate_pdf(cert, *, id_masked: str = "", at=None) -> bytes:
    url = verify_url(cert)
    statement = certificate_statement(cert, at=at)
    records = statement["records"]
    return render_pdf(
        PDF_TEMPLATE,
        {
            "lead": statement["lead"],
            "report_line": statement["report_line"],
            "cert": cert,
            "issued_on": local_date(cert.issued_at),
            "qr": qr_svg_data_uri(url),
            "verify_url": url,
            "id_masked": id_masked,
            "records": records,
            "site_name": settings.SITE_NAME,
            "passed_on": local_date(cert.record.passed_at) if cert.record_id else None,
        },
    )
