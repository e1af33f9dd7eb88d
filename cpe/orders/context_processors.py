from .policy import ORDER_PAY_TIMEOUT, REFUND_WINDOW


def orders(request):
    """Order facts every page may show, from the policy that owns them: the refund window
    (rules R5.1) and the payment time limit (rules R4.1)."""
    return {
        "REFUND_DAYS": REFUND_WINDOW.days,
        "ORDER_PAY_MINUTES": int(ORDER_PAY_TIMEOUT.total_seconds() // 60),
    }
