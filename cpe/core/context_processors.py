from django.conf import settings


def site(request):
    """Site facts every page may show; the numbers come from the policies that own them."""
    from cpe.invoicing.policy import INVOICE_CUTOFF_DAY, INVOICE_CUTOFF_MONTH
    from cpe.orders.policy import ORDER_PAY_TIMEOUT, REFUND_WINDOW

    return {
        "REFUND_DAYS": REFUND_WINDOW.days,
        "INVOICE_CUTOFF": f"次年 {INVOICE_CUTOFF_MONTH} 月 {INVOICE_CUTOFF_DAY} 日",
        "ORDER_PAY_MINUTES": int(ORDER_PAY_TIMEOUT.total_seconds() // 60),
        "SITE_NAME": settings.SITE_NAME,
        "SUPPORT_PHONE": settings.SUPPORT_PHONE,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
        "DEBUG": settings.DEBUG,
    }
