"""PDF documents (invoices, certificates): HTML rendered by WeasyPrint with Noto Sans CJK
embedded, and QR codes made by segno as SVG data URIs WeasyPrint embeds
(ReportLab cannot embed Noto CJK). The same approach as cpe/invoicing/providers/local.py, shared here."""

import segno
from django.conf import settings
from django.template.loader import render_to_string


def qr_svg_data_uri(url: str) -> str:
    """A URL as an SVG QR code (error correction M), for an <img> in a PDF."""
    return segno.make(url, error="m", micro=False).svg_data_uri(border=2, dark="#000", light="#fff")


def render_pdf(template: str, context: dict) -> bytes:
    import weasyprint

    html = render_to_string(template, context)
    return weasyprint.HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def absolute_url(path: str) -> str:
    """The platform's public address (settings.SITE_URL) + a path, for QR codes and messages."""
    return settings.SITE_URL.rstrip("/") + path
