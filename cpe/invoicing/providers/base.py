"""The e-invoice (数电票) port: plain dataclasses between the platform and any issuer.

The provider is chosen by ``settings.INVOICE_PROVIDER`` (a dotted path) read at call time, as
Django reads ``EMAIL_BACKEND``. A provider issues and renders; it owns no business rule (the
cutoff, the buyer checks and the tax split are in ``policy.py`` and arrive here decided)."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils.module_loading import import_string


class InvoiceProviderError(Exception):
    """The issuer could not be reached or failed; nothing was issued, the call may be retried."""


class InvoiceRejected(Exception):
    """The issuer refused the request as invalid (`code` says why); retrying will not help."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Party:
    name: str
    taxpayer_id: str = ""


@dataclass(frozen=True)
class InvoiceDraft:
    """Everything printed on a blue invoice, decided by the platform."""

    serial: str  # idempotency key (开票流水号): the same key returns the same invoice
    order_number: str
    buyer_type: str  # states.BuyerType value
    buyer: Party
    seller: Party
    item_name: str
    item_unit: str
    total_fen: int  # price including tax (价税合计), > 0
    net_fen: int  # amount excluding tax (金额)
    tax_fen: int  # tax (税额)
    tax_rate_permille: int  # 60 = 6 %
    at: datetime  # issue time
    verify_url: str  # absolute; encoded in the QR code


@dataclass(frozen=True)
class OriginalInvoice:
    """A blue invoice as issued, for its red-letter reversal."""

    number: str
    issued_at: datetime
    draft: InvoiceDraft


@dataclass(frozen=True)
class IssuedInvoice:
    number: str  # 20 digits
    issued_at: datetime
    pdf_bytes: bytes


class InvoiceProvider:
    is_fake = False

    def issue(self, draft: InvoiceDraft) -> IssuedInvoice:
        """Issue a blue invoice. Raises InvoiceRejected or InvoiceProviderError."""
        raise NotImplementedError

    def issue_red(
        self, original: OriginalInvoice, reason: str, *, serial: str, at: datetime, verify_url: str
    ) -> IssuedInvoice:
        """Issue the red-letter invoice reversing `original` in full (negated amounts,
        referring to the original number)."""
        raise NotImplementedError


def get_provider() -> InvoiceProvider:
    return import_string(settings.INVOICE_PROVIDER)()
