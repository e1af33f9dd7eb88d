from django.conf import settings


def site(request):
    """Site facts every page may show, from settings. The numbers of an app's rules (the refund
    window, the invoice cutoff) come from that app's own context processor
    (cpe.orders.context_processors, cpe.invoicing.context_processors): core uses no other app."""
    return {
        "SITE_NAME": settings.SITE_NAME,
        "SUPPORT_PHONE": settings.SUPPORT_PHONE,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
        "DEBUG": settings.DEBUG,
    }
