from celery import shared_task


@shared_task(acks_late=True)
def invoice_reverse_sweep():
    """Reverse invoices of refunded orders whose reversal failed at the provider (idempotent;
    schedule it periodically, e.g. hourly)."""
    from .services import invoice_reverse_pending

    return [inv.number for inv in invoice_reverse_pending()]
