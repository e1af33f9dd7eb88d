"""Where the payment adapters get their identities, keys and gateway addresses.

Read at call time (never at import), so a test can change settings between calls.

Production (``settings.PAYMENT_SANDBOX`` off) reads the environment:

Alipay (RSA2 public-key mode, not certificate mode)
    ALIPAY_APP_ID                 application id (appid) of the merchant application
    ALIPAY_SELLER_ID              the merchant's Alipay user id (2088...), checked on notifications
    ALIPAY_APP_PRIVATE_KEY_PATH   PEM file: our application private key (PKCS#1 or PKCS#8)
    ALIPAY_PUBLIC_KEY_PATH        PEM file: the "Alipay public key" shown in the Alipay console
    ALIPAY_GATEWAY_URL            optional, default https://openapi.alipay.com/gateway.do
WeChat Pay API v3 (direct merchant, platform-public-key mode)
    WECHATPAY_MCHID               merchant id
    WECHATPAY_APPID               appid bound to the merchant (official account / website app)
    WECHATPAY_PRIVATE_KEY_PATH    PEM file: merchant API private key, PKCS#8 ("BEGIN PRIVATE KEY")
    WECHATPAY_CERT_SERIAL         serial number of the merchant API certificate
    WECHATPAY_APIV3_KEY           the 32-character APIv3 key (decrypts notification resources)
    WECHATPAY_PUBLIC_KEY_PATH     PEM file: the WeChat Pay platform public key
    WECHATPAY_PUBLIC_KEY_ID       its id, "PUB_KEY_ID_..." (expected in Wechatpay-Serial)
    WECHATPAY_API_BASE            optional, default https://api.mch.weixin.qq.com

Sandbox (``settings.PAYMENT_SANDBOX`` on; development and tests only, refused with DEBUG off by
the deploy check cpe.E002): fixed identities and keys generated on first use by
``cpe.sandbox.keys`` into ``settings.VAR_DIR / "keys" / "sandbox"``, and gateway addresses under
``settings.SITE_URL + "/sandbox/"``, i.e. the platform's own embedded gateway. This is the only
fake part: the adapters themselves are the production code.
"""

import os
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ALIPAY_DEFAULT_GATEWAY = "https://openapi.alipay.com/gateway.do"
WECHATPAY_DEFAULT_API_BASE = "https://api.mch.weixin.qq.com"


@dataclass(frozen=True)
class AlipaySettings:
    app_id: str
    seller_id: str
    app_private_key_pem: str
    alipay_public_key_pem: str
    gateway_url: str
    timeout: int = 15  # seconds, per API call


@dataclass(frozen=True)
class WechatPaySettings:
    mchid: str
    appid: str
    private_key_pem: str  # PKCS#8
    cert_serial: str
    apiv3_key: str
    platform_public_key_pem: str
    platform_public_key_id: str
    api_base: str  # scheme://host[/prefix]; the SDK appends /v3/...
    timeout: tuple = (5, 15)  # (connect, read) seconds


def sandbox_keys_module():
    """The sandbox's keys and identities, by the dotted path settings.SANDBOX_KEYS (production
    code never imports cpe.sandbox)."""
    return import_module(settings.SANDBOX_KEYS)


def sandbox_enabled() -> bool:
    return bool(getattr(settings, "PAYMENT_SANDBOX", False))


def sandbox_base_url() -> str:
    """Absolute URL of the embedded sandbox gateway, e.g. http://127.0.0.1:8000/sandbox/."""
    from django.urls import reverse

    return settings.SITE_URL.rstrip("/") + reverse("sandbox:index")


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise ImproperlyConfigured(f"{name} must be set (or PAYMENT_SANDBOX=1 for the embedded sandbox)")
    return value


def _env_file(name: str) -> str:
    path = Path(_env(name))
    try:
        return path.read_text()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}: cannot read {path}: {exc}") from exc


def alipay_settings() -> AlipaySettings:
    if sandbox_enabled():
        keys = sandbox_keys_module()
        k = keys.sandbox_keys()
        return AlipaySettings(
            app_id=keys.ALIPAY_APP_ID,
            seller_id=keys.ALIPAY_SELLER_ID,
            app_private_key_pem=k.alipay_app_private_pem,
            alipay_public_key_pem=k.alipay_gateway_public_pem,
            gateway_url=sandbox_base_url() + "alipay/gateway.do",
            timeout=10,
        )
    return AlipaySettings(
        app_id=_env("ALIPAY_APP_ID"),
        seller_id=_env("ALIPAY_SELLER_ID"),
        app_private_key_pem=_env_file("ALIPAY_APP_PRIVATE_KEY_PATH"),
        alipay_public_key_pem=_env_file("ALIPAY_PUBLIC_KEY_PATH"),
        gateway_url=_env("ALIPAY_GATEWAY_URL", ALIPAY_DEFAULT_GATEWAY),
    )


def wechatpay_settings() -> WechatPaySettings:
    if sandbox_enabled():
        keys = sandbox_keys_module()
        k = keys.sandbox_keys()
        return WechatPaySettings(
            mchid=keys.WECHAT_MCHID,
            appid=keys.WECHAT_APPID,
            private_key_pem=k.wechat_merchant_private_pem,
            cert_serial=k.wechat_merchant_serial,
            apiv3_key=k.wechat_apiv3_key,
            platform_public_key_pem=k.wechat_platform_public_pem,
            platform_public_key_id=keys.WECHAT_PLATFORM_PUBLIC_KEY_ID,
            api_base=sandbox_base_url() + "wechat",
            timeout=(5, 10),
        )
    apiv3_key = _env("WECHATPAY_APIV3_KEY")
    if len(apiv3_key.encode()) != 32:
        raise ImproperlyConfigured("WECHATPAY_APIV3_KEY must be 32 bytes")
    return WechatPaySettings(
        mchid=_env("WECHATPAY_MCHID"),
        appid=_env("WECHATPAY_APPID"),
        private_key_pem=_env_file("WECHATPAY_PRIVATE_KEY_PATH"),
        cert_serial=_env("WECHATPAY_CERT_SERIAL"),
        apiv3_key=apiv3_key,
        platform_public_key_pem=_env_file("WECHATPAY_PUBLIC_KEY_PATH"),
        platform_public_key_id=_env("WECHATPAY_PUBLIC_KEY_ID"),
        api_base=_env("WECHATPAY_API_BASE", WECHATPAY_DEFAULT_API_BASE).rstrip("/"),
    )
