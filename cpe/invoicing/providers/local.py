"""The embedded stand-in for the e-invoice (数电票) service: allocates 20-digit numbers and
renders the PDF itself, so the platform runs end to end on one machine.

It validates like the real service (number shape, amounts that add up, an allowed rate, a
valid buyer taxpayer ID) and can be told to fail: ``settings.INVOICE_LOCAL_FAIL`` =
"unavailable" (InvoiceProviderError) or "reject" (InvoiceRejected); default "" (works).
Its PDFs say they are a demonstration; `is_fake` makes the deploy check refuse it with DEBUG off."""

from django.conf import settings
from django.db import IntegrityError, transaction

from cpe.core.documents import qr_svg_data_uri, render_pdf
from cpe.core.money import fen_to_yuan
from cpe.core.timewin import local_date

from .. import policy
from ..models import LocalInvoiceNumber
from ..states import InvoiceKind
from .base import (
    InvoiceDraft,
    InvoiceProvider,
    InvoiceProviderError,
    InvoiceRejected,
    IssuedInvoice,
    OriginalInvoice,
)

# Fifth digit of the number (issuing channel); 0 marks the embedded stand-in.
LOCAL_CHANNEL = 0
PDF_TEMPLATE = "invoicing/invoice_pdf.html"


def render_invoice_pdf(
    *,
    number: str,
    issued_at,
    draft: InvoiceDraft,
    kind: str,
    verify_url: str,
    original_number: str = "",
    reason: str = "",
    is_demo: bool = True,
) -> bytes:
    """The invoice as a PDF (WeasyPrint, Noto Sans CJK SC embedded). A red invoice shows 红字,
    negative amounts and the number of the invoice it reverses."""
    sign = -1 if kind == InvoiceKind.RED else 1
    context = {
        "number": number,
        "issued_on": local_date(issued_at),
        "draft": draft,
        "is_red": kind == InvoiceKind.RED,
        "original_number": original_number,
        "reason": reason,
        "quantity": sign,
        "unit_price": fen_to_yuan(draft.net_fen),
        "net": fen_to_yuan(sign * draft.net_fen),
        "tax": fen_to_yuan(sign * draft.tax_fen),
        "total": fen_to_yuan(sign * draft.total_fen),
        "total_capitals": policy.amount_in_capitals(sign * draft.total_fen),
        "rate": policy.tax_rate_label(draft.tax_rate_permille),
        "qr": qr_svg_data_uri(verify_url),
        "verify_url": verify_url,
        "is_demo": is_demo,
    }
    return render_pdf(PDF_TEMPLATE, context)


class LocalInvoiceProvider(InvoiceProvider):
    is_fake = True
    name = "local"

    def _maybe_fail(self):
        mode = getattr(settings, "INVOICE_LOCAL_FAIL", "")
        if mode == "unavailable":
            raise InvoiceProviderError("本地开票服务被设置为不可用（INVOICE_LOCAL_FAIL）")
        if mode == "reject":
            raise InvoiceRejected("rejected", "本地开票服务被设置为拒绝开票（INVOICE_LOCAL_FAIL）")

    @staticmethod
    def _validate(draft: InvoiceDraft):
        if not draft.serial or len(draft.serial) > 64:
            raise InvoiceRejected("serial", "开票流水号无效")
        if draft.total_fen <= 0 or draft.net_fen + draft.tax_fen != draft.total_fen:
            raise InvoiceRejected("amounts", "金额与税额之和不等于价税合计")
        if draft.tax_rate_permille not in policy.ALLOWED_TAX_RATES_PERMILLE:
            raise InvoiceRejected("tax_rate", f"不支持的税率 {draft.tax_rate_permille}‰")
        if policy.tax_split(draft.total_fen, draft.tax_rate_permille).tax_fen != draft.tax_fen:
            raise InvoiceRejected("tax", "税额计算不正确")
        if not draft.buyer.name or len(draft.buyer.name) > policy.BUYER_NAME_MAX:
            raise InvoiceRejected("buyer_name", "购买方名称无效")
        if draft.buyer.taxpayer_id and not policy.check_uscc(draft.buyer.taxpayer_id).ok:
            raise InvoiceRejected("buyer_taxpayer_id", "购买方纳税人识别号无效")
        if not policy.check_uscc(draft.seller.taxpayer_id).ok:
            raise InvoiceRejected("seller_taxpayer_id", "销售方纳税人识别号无效")
        if draft.at.tzinfo is None:
            raise InvoiceRejected("at", "开票时间缺少时区")

    @staticmethod
    def _allocate(serial: str, at) -> tuple[str, object]:
        """A number for `serial`: the same one again if the serial was seen (idempotent)."""
        row = LocalInvoiceNumber.objects.filter(serial=serial).first()
        if row is not None:
            return row.number, row.allocated_at
        try:
            with transaction.atomic():
                row = LocalInvoiceNumber.objects.create(serial=serial, allocated_at=at)
                row.number = policy.compose_invoice_number(
                    year=local_date(at).year,
                    region_code=policy.INVOICE_REGION_CODE,
                    channel=LOCAL_CHANNEL,
                    sequence=row.pk,
                )
                row.save(update_fields=["number"])
        except IntegrityError as exc:  # the same serial from a concurrent request
            raise InvoiceProviderError("开票流水号冲突，请重试") from exc
        return row.number, at

    def issue(self, draft: InvoiceDraft) -> IssuedInvoice:
        self._maybe_fail()
        self._validate(draft)
        number, issued_at = self._allocate(draft.serial, draft.at)
        pdf = render_invoice_pdf(
            number=number,
            issued_at=issued_at,
            draft=draft,
            kind=InvoiceKind.BLUE,
            verify_url=draft.verify_url,
        )
        return IssuedInvoice(number=number, issued_at=issued_at, pdf_bytes=pdf)

    def issue_red(
        self, original: OriginalInvoice, reason: str, *, serial: str, at, verify_url: str
    ) -> IssuedInvoice:
        self._maybe_fail()
        if not policy.is_invoice_number(original.number):
            raise InvoiceRejected("original_number", "被红冲发票号码无效")
        if not (reason or "").strip():
            raise InvoiceRejected("reason", "红冲原因不能为空")
        self._validate(original.draft)
        number, issued_at = self._allocate(serial, at)
        pdf = render_invoice_pdf(
            number=number,
            issued_at=issued_at,
            draft=original.draft,
            kind=InvoiceKind.RED,
            verify_url=verify_url,
            original_number=original.number,
            reason=reason,
        )
        return IssuedInvoice(number=number, issued_at=issued_at, pdf_bytes=pdf)
