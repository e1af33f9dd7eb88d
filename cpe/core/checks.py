"""Deploy checks: no embedded stand-in may be configured with DEBUG off; the client address
(cpe/core/net.py) must be configured for the proxies production runs behind; the audit log's
HMAC key must come from the environment."""

import os

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
            errors.append(Error(f"{name} is an embedded stand-in ({path}) while DEBUG is off", id="cpe.E001"))
    if getattr(settings, "AIS_SECRET", "") == getattr(settings, "AIS_DEMO_SECRET", None):
        errors.append(Error("AIS_SECRET is the simulator's demo secret while DEBUG is off", id="cpe.E003"))
    return errors


@register(Tags.security, deploy=True)
def client_address_configured(app_configs, **kwargs):
    """cpe.E004: TRUSTED_PROXY_COUNT must be set explicitly in the environment. Left at its
    default (0) behind nginx, every per-address control (bans, lockout, throttles, records)
    would see the proxy's address: one client could lock everybody out, and no IP ban would
    ever match. Set too high, a client could choose its own address."""
    hint = (
        "Set TRUSTED_PROXY_COUNT to the number of reverse proxies in front of the platform "
        "that append to X-Forwarded-For (nginx alone: 1; none: 0). See docs/security.md."
    )
    if os.environ.get("PROXY_COUNT"):  # what axes alone once read (and nothing else did)
        hint += " PROXY_COUNT is no longer read: TRUSTED_PROXY_COUNT replaces it."
    if not (os.environ.get("TRUSTED_PROXY_COUNT") or "").strip():
        return [Error("TRUSTED_PROXY_COUNT is not set in the environment", hint=hint, id="cpe.E004")]
    value = getattr(settings, "TRUSTED_PROXY_COUNT", None)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return [
            Error(f"TRUSTED_PROXY_COUNT must be a whole number >= 0, not {value!r}", hint=hint, id="cpe.E004")
        ]
    return []


@register(Tags.security, deploy=True)
def audit_key_configured(app_configs, **kwargs):
    """cpe.E005: the audit log's HMAC key (cpe/core/audit.py). Without it every audited change
    fails; with a key anyone can read (the repository, a generated file) the chain proves nothing."""
    from django.core.exceptions import ImproperlyConfigured

    from .audit import load_audit_keys

    hint = (
        'Set CPE_AUDIT_KEYS="a1:<base64 of 32 random bytes>" (and CPE_AUDIT_ACTIVE_KEY when there '
        'are several). See docs/security.md, "The audit log".'
    )
    if not settings.DEBUG and not (os.environ.get("CPE_AUDIT_KEYS") or "").strip():
        return [
            Error("CPE_AUDIT_KEYS is not set in the environment while DEBUG is off", hint=hint, id="cpe.E005")
        ]
    try:
        load_audit_keys()
    except (ImproperlyConfigured, ValueError, KeyError) as exc:
        return [Error(f"the audit keys are unusable: {exc}", hint=hint, id="cpe.E005")]
    return []


# Middleware that the staff second factor and the Content-Security-Policy depend on, in order.
REQUIRED_MIDDLEWARE = (
    "cpe.core.content_policy.CSPMiddleware",  # django-csp's, the policy text built once
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cpe.accounts.middleware.OTPMiddleware",  # django-otp's, request.user one lazy object
    "cpe.accounts.middleware.SingleSessionMiddleware",
    "cpe.accounts.middleware.StaffSecondFactorMiddleware",
)


@register(Tags.security, deploy=True)
def staff_gate_and_csp_installed(app_configs, **kwargs):
    """cpe.E006: without these, staff would reach the staff site on a password alone, or pages
    would go out without a Content-Security-Policy (docs/security.md)."""
    from django.conf import settings

    installed = list(settings.MIDDLEWARE)
    missing = [m for m in REQUIRED_MIDDLEWARE if m not in installed]
    if missing:
        return [
            Error(
                f"middleware missing: {', '.join(missing)}",
                id="cpe.E006",
                hint="keep the MIDDLEWARE of config/settings/base.py",
            )
        ]
    order = [installed.index(m) for m in REQUIRED_MIDDLEWARE[1:]]
    if order != sorted(order):
        return [
            Error(
                "OTPMiddleware must follow AuthenticationMiddleware, and StaffSecondFactorMiddleware "
                "must follow both and SingleSessionMiddleware",
                id="cpe.E006",
            )
        ]
    return []
