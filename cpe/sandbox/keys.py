"""Keys and identities of the embedded sandbox gateway.

Both sides of each protocol live on this machine, so the sandbox generates every key pair on
first use into ``settings.VAR_DIR / "keys" / "sandbox"`` (untracked; RSA-2048, files chmod 600,
private keys PEM PKCS#8, which is what wechatpayv3 needs for the merchant key):

- ``alipay_app_private.pem``      our Alipay application key: the adapter signs requests with it,
                                  the sandbox verifies them with its public half;
- ``alipay_gateway_private.pem``  the sandbox "Alipay" key: signs API responses and notifications,
                                  the adapter verifies with the public half ("alipay public key");
- ``wechat_merchant_private.pem`` our WeChat Pay merchant API key (Authorization header);
- ``wechat_platform_private.pem`` the sandbox "WeChat Pay platform" key: signs responses and
                                  notifications, the adapter verifies with the public half;
- ``wechat_apiv3.key``            the 32-character APIv3 key (AES-256-GCM of notification resources).

Files are created atomically (written under a temporary name, then hard-linked into place), so
concurrent first uses in several processes agree on one key set.
"""

import hashlib
import os
import secrets
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

# Fixed identities of the sandbox merchant (they only have to agree between adapter and sandbox).
ALIPAY_APP_ID = "2021000000000001"
ALIPAY_SELLER_ID = "2088000000000001"
WECHAT_MCHID = "1900000001"
WECHAT_APPID = "wx00000000000000a1"
WECHAT_PLATFORM_PUBLIC_KEY_ID = "PUB_KEY_ID_0000000000000000000001"


@dataclass(frozen=True)
class SandboxKeys:
    alipay_app_private_pem: str
    alipay_app_public_pem: str
    alipay_gateway_private_pem: str
    alipay_gateway_public_pem: str
    wechat_merchant_private_pem: str
    wechat_merchant_public_pem: str
    wechat_merchant_serial: str  # stands for the merchant API certificate's serial number
    wechat_platform_private_pem: str
    wechat_platform_public_pem: str
    wechat_apiv3_key: str
    aliyun_sms_secret: str  # the AccessKeySecret of the embedded Aliyun SMS stand-in


def key_dir() -> Path:
    return Path(settings.VAR_DIR) / "keys" / "sandbox"


def _create_once(path: Path, content: bytes) -> None:
    """Write `content` to `path` unless it exists; never leaves a partial file at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        try:
            os.link(tmp, path)  # atomic; fails if another process won the race
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def _new_private_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _private_pem(path: Path) -> str:
    if not path.exists():
        _create_once(path, _new_private_pem())
    return path.read_text()


def _public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _apiv3_key(path: Path) -> str:
    if not path.exists():
        alphabet = string.ascii_letters + string.digits
        _create_once(path, "".join(secrets.choice(alphabet) for _ in range(32)).encode())
    return path.read_text().strip()


_cache: dict[Path, SandboxKeys] = {}


def sandbox_keys() -> SandboxKeys:
    """The sandbox key set, generated on first use (cached per key directory)."""
    folder = key_dir()
    if folder not in _cache:
        app = _private_pem(folder / "alipay_app_private.pem")
        gateway = _private_pem(folder / "alipay_gateway_private.pem")
        merchant = _private_pem(folder / "wechat_merchant_private.pem")
        platform = _private_pem(folder / "wechat_platform_private.pem")
        merchant_public = _public_pem(merchant)
        _cache[folder] = SandboxKeys(
            alipay_app_private_pem=app,
            alipay_app_public_pem=_public_pem(app),
            alipay_gateway_private_pem=gateway,
            alipay_gateway_public_pem=_public_pem(gateway),
            wechat_merchant_private_pem=merchant,
            wechat_merchant_public_pem=merchant_public,
            wechat_merchant_serial=hashlib.sha1(merchant_public.encode()).hexdigest().upper(),
            wechat_platform_private_pem=platform,
            wechat_platform_public_pem=_public_pem(platform),
            wechat_apiv3_key=_apiv3_key(folder / "wechat_apiv3.key"),
            aliyun_sms_secret=_apiv3_key(folder / "aliyun_sms.key"),
        )
    return _cache[folder]
