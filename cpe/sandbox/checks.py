"""Deploy check: the sandbox payment gateway (fixed sandbox keys, gateway addresses pointing at
the platform itself) must never be configured in production."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def payment_sandbox_off_in_production(app_configs, **kwargs):
    if settings.DEBUG or not getattr(settings, "PAYMENT_SANDBOX", False):
        return []
    return [
        Error(
            "PAYMENT_SANDBOX is on while DEBUG is off: payments (and Aliyun SMS) would go to the "
            "embedded sandbox with generated keys",
            hint="Unset PAYMENT_SANDBOX and set the ALIPAY_* / "
            "WECHATPAY_* variables (cpe/orders/gateways/config.py) and ALIYUN_SMS_* "
            "(cpe/notices/sms/aliyun.py).",
            id="cpe.E002",
        )
    ]
