"""Every write to invoices. A service locks what it changes, checks policy.py, issues through
the provider port, stores the PDF, writes an audit event and queues the e-mail in the same
transaction (the outbox delivers it after commit). A refused request changes nothing.

Settings read at call time (none is required):
- INVOICE_PROVIDER: dotted path of the provider (providers/base.py).
- INVOICE_TAX_RATE_PERMILLE: the seller's rate, default policy.DEFAULT_TAX_RATE_PERMILLE (60 = 6 %).
- INVOICE_SELLER_NAME, INVOICE_SELLER_TAXPAYER_ID: the seller printed on the invoice
  (demonstration defaults below).
- SITE_URL: base of the verification URL in the QR code."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from cpe.core.audit import audit_record
from cpe.core.documents import absolute_url
from cpe.core.masking import mask_name
from cpe.core.money import fen_to_yuan
from cpe.notices.models import Channel
from cpe.notices.services import message_queue
from cpe.orders.models import Order, Refund

from . import policy
from .errors import InvoiceError
from .models import Invoice, new_verify_token
from .providers.base import (
    InvoiceDraft,
    InvoiceProviderError,
    InvoiceRejected,
    OriginalInvoice,
    Party,
    get_provider,
)
from .states import BuyerType, InvoiceKind, InvoiceStatus

if TYPE_CHECKING:
    from cpe.accounts.models import User

log = logging.getLogger(__name__)

DEMO_SELLER_NAME = "内蒙古会计继续教育服务有限公司（演示）"
DEMO_SELLER_TAXPAYER_ID = "91150100MA0N000000"  # a valid GB 32100 code, made up for the demo


def seller() -> Party:
    return Party(
        name=getattr(settings, "INVOICE_SELLER_NAME", DEMO_SELLER_NAME),
        taxpayer_id=getattr(settings, "INVOICE_SELLER_TAXPAYER_ID", DEMO_SELLER_TAXPAYER_ID),
    )


def tax_rate_permille() -> int:
    return policy.check_tax_rate(
        int(getattr(settings, "INVOICE_TAX_RATE_PERMILLE", policy.DEFAULT_TAX_RATE_PERMILLE))
    )


def verify_url(token: str) -> str:
    return absolute_url(reverse("invoicing:verify", args=[token]))


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _provider_call(fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    try:
        return fn(*args, **kwargs)
    except InvoiceRejected as exc:
        raise InvoiceError(
            "provider_rejected", f"开票服务拒绝了本次开票（{exc.detail or exc.code}），请联系客服。"
        ) from exc
    except InvoiceProviderError as exc:
        raise InvoiceError("provider_unavailable", "开票服务暂时不可用，请稍后再试。") from exc


def _store(invoice: Invoice, pdf_bytes: bytes, written: list[str]) -> Invoice:
    """Write the PDF, then insert the row. `written` collects file names to delete if the
    transaction fails (storage is not transactional)."""
    invoice.pdf.save(f"{invoice.number}.pdf", ContentFile(pdf_bytes), save=False)
    written.append(invoice.pdf.name)  # type: ignore[arg-type]  # FieldFile.save has just set the name
    invoice.save(force_insert=True)
    return invoice


def _cleanup(written: list[str]) -> None:
    store = Invoice._meta.get_field("pdf").storage
    for name in written:
        store.delete(name)


def _audit_buyer(invoice: Invoice) -> str:
    return mask_name(invoice.buyer_name) if invoice.buyer_type == BuyerType.PERSONAL else invoice.buyer_name


def _email_learner(user: User, *, event: str, subject: str, body: str, at: datetime) -> None:
    """rules R1.4: an e-mail address is used for notices only once verified."""
    if user.email and user.email_verified_at:
        message_queue(
            channel=Channel.EMAIL, to=user.email, event=event, subject=subject, body=body, user=user, at=at
        )


def invoice_request(
    *,
    user: User,
    order_number: str,
    buyer_type: str,
    buyer_name: str = "",
    unit_kind: str = "",
    taxpayer_id: str = "",
    at: datetime | None = None,
) -> Invoice:
    """Issue the blue invoice of one of the learner's orders (rules R6).

    For a personal invoice the buyer is the learner's registered name (`user.name`); a posted
    name is ignored. Raises InvoiceError (with `field` for form errors) and changes nothing
    when refused."""
    at = at or timezone.now()
    written: list[str] = []
    try:
        with transaction.atomic():
            order = (
                Order.objects.select_for_update()
                .filter(number=(order_number or "").strip(), user=user)
                .first()
            )
            if order is None:
                raise InvoiceError("order_not_found", "订单不存在。")
            has_valid = Invoice.objects.valid_blue().filter(order=order).exists()
            decision = policy.invoice_decision(order.status, order.paid_at, has_valid, at)
            if not decision.allowed:
                raise InvoiceError(decision.code, decision.message)
            buyer = policy.check_buyer(
                buyer_type=buyer_type,
                learner_name=user.name,
                unit_name=buyer_name,
                unit_kind=unit_kind,
                taxpayer_id=taxpayer_id,
            )
            if not buyer.ok:
                raise InvoiceError(buyer.code, buyer.message, field=buyer.field)

            split = policy.tax_split(order.amount_fen, tax_rate_permille())
            token = new_verify_token()
            attempt = Invoice.objects.blue().filter(order=order).count() + 1
            provider = get_provider()
            draft = InvoiceDraft(
                serial=f"{order.number}-B{attempt}",
                order_number=order.number,
                buyer_type=buyer.buyer_type,
                buyer=Party(buyer.buyer_name, buyer.taxpayer_id),
                seller=seller(),
                item_name=policy.ITEM_NAME,
                item_unit=policy.ITEM_UNIT,
                total_fen=split.total_fen,
                net_fen=split.net_fen,
                tax_fen=split.tax_fen,
                tax_rate_permille=split.rate_permille,
                at=at,
                verify_url=verify_url(token),
            )
            issued = _provider_call(provider.issue, draft)
            invoice = _store(
                Invoice(
                    order=order,
                    kind=InvoiceKind.BLUE,
                    number=issued.number,
                    buyer_type=buyer.buyer_type,
                    buyer_name=buyer.buyer_name,
                    unit_kind=buyer.unit_kind,
                    taxpayer_id=buyer.taxpayer_id,
                    seller_name=draft.seller.name,
                    seller_taxpayer_id=draft.seller.taxpayer_id,
                    item_name=draft.item_name,
                    total_fen=split.total_fen,
                    net_fen=split.net_fen,
                    tax_fen=split.tax_fen,
                    tax_rate_permille=split.rate_permille,
                    status=InvoiceStatus.ISSUED,
                    issued_at=issued.issued_at,
                    verify_token=token,
                    provider=type(provider).__module__ + "." + type(provider).__qualname__,
                ),
                issued.pdf_bytes,
                written,
            )
            audit_record(
                "invoice.issued",
                actor=user,
                subject=invoice,
                at=at,
                data={
                    "number": invoice.number,
                    "order": order.number,
                    "buyer_type": invoice.buyer_type,
                    "buyer_name": _audit_buyer(invoice),
                    "unit_kind": invoice.unit_kind,
                    "taxpayer_id": invoice.taxpayer_id,
                    "total_fen": invoice.total_fen,
                    "tax_fen": invoice.tax_fen,
                    "tax_rate_permille": invoice.tax_rate_permille,
                    # rules R14: the buyer's name went to the e-invoice service.
                    "transferred_to": invoice.provider,
                },
            )
            _email_learner(
                user,
                event="invoice.ready",
                at=at,
                subject="您的电子发票已开具",
                body=(
                    f"{user.name}，您好：\n\n您的订单 {order.number}（{order.subject}）的电子发票已开具。\n"
                    f"发票号码：{invoice.number}\n购买方：{invoice.buyer_name}\n"
                    f"价税合计：¥{fen_to_yuan(invoice.total_fen)}\n\n"
                    f"请登录平台，在“我的发票”中下载 PDF：{absolute_url(reverse('invoicing:list'))}\n"
                ),
            )
    except IntegrityError as exc:
        # The one-valid-blue-invoice constraint caught a request that raced past the lock.
        _cleanup(written)
        raise InvoiceError("already_invoiced", "该订单已开具发票，每个订单只能开具一张发票。") from exc
    except BaseException:
        _cleanup(written)
        raise
    return invoice


def _draft_of(invoice: Invoice) -> InvoiceDraft:
    """The content of an issued blue invoice, as the provider saw it."""
    return InvoiceDraft(
        serial=f"{invoice.order.number}-{invoice.number}",
        order_number=invoice.order.number,
        buyer_type=invoice.buyer_type,
        buyer=Party(invoice.buyer_name, invoice.taxpayer_id),
        seller=Party(invoice.seller_name, invoice.seller_taxpayer_id),
        item_name=invoice.item_name,
        item_unit=policy.ITEM_UNIT,
        total_fen=invoice.total_fen,
        net_fen=invoice.net_fen,
        tax_fen=invoice.tax_fen,
        tax_rate_permille=invoice.tax_rate_permille,
        at=invoice.issued_at,
        verify_url=verify_url(invoice.verify_token),
    )


def invoice_reverse_for_order(
    *, order: Order, reason: str, actor: User | None = None, at: datetime | None = None
) -> Invoice | None:
    """rules R5.2: when a refund succeeds, reverse the order's issued blue invoice in full with
    a red-letter invoice and mark the blue one reversed. Returns the red invoice, or None when
    there is nothing to reverse (no invoice, or already reversed: a second call does nothing).

    Called by the refund service inside its own transaction; this joins it. A provider failure
    raises InvoiceError("provider_unavailable"): a caller that must not roll back a refund the
    gateway has already paid should call this inside a savepoint and catch InvoiceError; the
    sweep `invoice_reverse_pending` (tasks.invoice_reverse_sweep) retries such orders later."""
    at = at or timezone.now()
    reason = (reason or "").strip() or "订单退款"
    written: list[str] = []
    try:
        with transaction.atomic():
            blue = (
                Invoice.objects.select_for_update()
                .valid_blue()
                .filter(order_id=order.pk)
                .select_related("order", "order__user")
                .first()
            )
            if blue is None:
                return None
            token = new_verify_token()
            provider = get_provider()
            issued = _provider_call(
                provider.issue_red,
                OriginalInvoice(number=blue.number, issued_at=blue.issued_at, draft=_draft_of(blue)),
                reason,
                serial=f"{blue.number}-R",
                at=at,
                verify_url=verify_url(token),
            )
            red = _store(
                Invoice(
                    order=blue.order,
                    kind=InvoiceKind.RED,
                    original=blue,
                    number=issued.number,
                    buyer_type=blue.buyer_type,
                    buyer_name=blue.buyer_name,
                    unit_kind=blue.unit_kind,
                    taxpayer_id=blue.taxpayer_id,
                    seller_name=blue.seller_name,
                    seller_taxpayer_id=blue.seller_taxpayer_id,
                    item_name=blue.item_name,
                    total_fen=-blue.total_fen,
                    net_fen=-blue.net_fen,
                    tax_fen=-blue.tax_fen,
                    tax_rate_permille=blue.tax_rate_permille,
                    status=InvoiceStatus.ISSUED,
                    issued_at=issued.issued_at,
                    reason=reason[:200],
                    verify_token=token,
                    provider=type(provider).__module__ + "." + type(provider).__qualname__,
                ),
                issued.pdf_bytes,
                written,
            )
            blue.status, blue.reversed_at = InvoiceStatus.REVERSED, at
            blue.save(update_fields=["status", "reversed_at"])
            audit_record(
                "invoice.reversed",
                actor=actor,
                subject=blue,
                at=at,
                data={
                    "number": blue.number,
                    "red_number": red.number,
                    "order": blue.order.number,
                    "old": {"status": InvoiceStatus.ISSUED},
                    "new": {"status": InvoiceStatus.REVERSED},
                    "total_fen": red.total_fen,
                    "reason": red.reason,
                },
            )
            user = blue.order.user
            _email_learner(
                user,
                event="invoice.reversed",
                at=at,
                subject="您的电子发票已红冲",
                body=(
                    f"{user.name}，您好：\n\n因{red.reason}，"
                    f"订单 {blue.order.number} 的电子发票 {blue.number} "
                    f"已开具红字发票 {red.number} 冲销，原发票作废。\n"
                    f"如需查看，请登录平台“我的发票”：{absolute_url(reverse('invoicing:list'))}\n"
                ),
            )
    except BaseException:
        _cleanup(written)
        raise
    return red


def invoice_reverse_after_refund(*, order: Order, refund: Refund, at: datetime) -> None:
    """A refund reverses the order's invoice (orders.hooks.refunded, inside the refund's
    transaction). The money has already gone back, so a failing invoice service must not roll
    the refund back: the red invoice is then issued by the hourly `invoice_reverse_sweep`."""
    try:
        with transaction.atomic():
            invoice_reverse_for_order(
                order=order, reason=f"退款 {refund.refund_no}", actor=refund.decided_by, at=at
            )
    except InvoiceError as exc:
        log.warning("refund %s: red invoice deferred to the sweep: %s", refund.refund_no, exc)


def invoice_reverse_pending(*, at: datetime | None = None) -> list[Invoice]:
    """Reverse the invoices of refunded orders that still hold a valid blue invoice (a refund
    whose reversal failed at the provider). Idempotent; each order in its own transaction."""
    from .selectors import refunded_orders_with_valid_invoice

    done = []
    for order in refunded_orders_with_valid_invoice():
        try:
            red = invoice_reverse_for_order(order=order, reason="订单退款", at=at)
        except InvoiceError:
            continue
        if red is not None:
            done.append(red)
    return done
