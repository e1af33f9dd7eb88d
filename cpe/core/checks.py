"""A deploy check: no embedded stand-in may be configured with DEBUG off."""
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

PORT_SETTINGS = ["SMS_BACKEND", "EMAIL_BACKEND", "INVOICE_PROVIDER"]


@register(Tags.security, deploy=True)
def fakes_off_in_production(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    errors = []
    for name in PORT_SETTINGS:
        path = getattr(settings, name, None)
        if path and getattr(import_string(path), "is_fake", False):
            errors.append(Error(f"{name} is an embedded stand-in ({path}) while DEBUG is off",
                                id="cpe.E001"))
    if getattr(settings, "AIS_SECRET", "") == getattr(settings, "AIS_DEMO_SECRET", None):
        errors.append(Error("AIS_SECRET is the simulator's demo secret while DEBUG is off", id="cpe.E003"))
    return errors
