"""Payment gateway port. `get_gateway("alipay" | "wechat")` returns the adapter configured
in settings.PAYMENT_GATEWAYS (dotted paths, read at call time)."""

from django.conf import settings
from django.utils.module_loading import import_string


def get_gateway(name: str):
    return import_string(settings.PAYMENT_GATEWAYS[name])()
