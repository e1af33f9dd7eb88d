from .policy import INVOICE_CUTOFF_DAY, INVOICE_CUTOFF_MONTH


def invoicing(request):
    """Invoice facts every page may show, from the policy that owns them: the last day to ask
    for an invoice of a year's orders (rules R6.1)."""
    return {"INVOICE_CUTOFF": f"次年 {INVOICE_CUTOFF_MONTH} 月 {INVOICE_CUTOFF_DAY} 日"}
