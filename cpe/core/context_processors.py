from django.conf import settings


def site(request):
    return {
        "SITE_NAME": settings.SITE_NAME,
        "SUPPORT_PHONE": settings.SUPPORT_PHONE,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
        "DEBUG": settings.DEBUG,
    }
