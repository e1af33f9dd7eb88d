from cpe.core.errors import ApplicationError


class InvoiceError(ApplicationError):
    """A refused invoice action; nothing was changed.

    Codes: order_not_found, not_paid, refunded, already_invoiced, refund_pending, past_cutoff
    (policy.invoice_decision); buyer_type, no_real_name, unit_name_required, unit_name_length,
    unit_kind, taxpayer_id_required, uscc_* (policy.check_buyer); provider_unavailable,
    provider_rejected (the e-invoice service)."""
