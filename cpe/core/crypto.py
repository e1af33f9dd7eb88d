"""Encryption of personal data at rest, and the keyed blind index used to find it.

AES-256-GCM, a random 96-bit nonce per value, the column's "app.model.field" as associated
data (a ciphertext copied into another column does not decrypt), and the key id in the
stored value so keys can be rotated. The blind index is HMAC-SHA256 under a separate key,
per kind of value ("id_number", "mobile", "email"), over the normalised value.

Stored form: ``e1:<key id>:<base64url(nonce || ciphertext+tag)>``.

Keys come from the environment (CPE_FIELD_KEYS="k2:<b64>,k1:<b64>", CPE_FIELD_ACTIVE_KEY,
CPE_BLIND_INDEX_KEY), or, in the embedded default only, from a JSON file generated on
first run in the untracked var/ folder.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "e1"


class DecryptionError(Exception):
    """A stored value that does not decrypt: wrong key, wrong column, or tampered."""


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_URLSAFE_TO_STD = bytes.maketrans(b"-_", b"+/")


def _b64d(text: str) -> bytes:
    # base64.urlsafe_b64decode without its layers of wrappers (an export decrypts a million values).
    return binascii.a2b_base64(text.encode("ascii").translate(_URLSAFE_TO_STD) + b"=" * (-len(text) % 4))


@lru_cache(maxsize=16)
def _aead(key: bytes) -> AESGCM:
    """One AESGCM object per key (building one costs about as much as a decryption)."""
    return AESGCM(key)


@dataclass(frozen=True)
class FieldKeys:
    keys: dict  # key id -> 32 bytes
    active: str
    index_key: bytes


def _keys_from_env() -> FieldKeys | None:
    raw = os.environ.get("CPE_FIELD_KEYS")
    if not raw:
        return None
    keys = {}
    for part in raw.split(","):
        kid, _, b64 = part.strip().partition(":")
        keys[kid] = _b64d(b64)
    active = os.environ.get("CPE_FIELD_ACTIVE_KEY") or next(iter(keys))
    index_key = _b64d(os.environ.get("CPE_BLIND_INDEX_KEY", ""))
    return FieldKeys(keys, active, index_key)


def _keys_from_file(path) -> FieldKeys:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "active": "k1",
            "keys": {"k1": _b64e(secrets.token_bytes(32))},
            "index_key": _b64e(secrets.token_bytes(32)),
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
    data = json.loads(path.read_text())
    return FieldKeys(
        {kid: _b64d(v) for kid, v in data["keys"].items()},
        data["active"],
        _b64d(data["index_key"]),
    )


@lru_cache(maxsize=1)
def field_keys() -> FieldKeys:
    keys = _keys_from_env()
    if keys is None and settings.FIELD_KEYS_FILE:
        keys = _keys_from_file(settings.FIELD_KEYS_FILE)
    if keys is None:
        raise ImproperlyConfigured("CPE_FIELD_KEYS and CPE_BLIND_INDEX_KEY must be set")
    for kid, key in keys.keys.items():
        if len(key) != 32:
            raise ImproperlyConfigured(f"field key {kid} is not 256 bits")
    if keys.active not in keys.keys or len(keys.index_key) < 32:
        raise ImproperlyConfigured("active field key or blind-index key missing")
    return keys


def encrypt(plaintext: str, aad: str) -> str:
    k = field_keys()
    nonce = secrets.token_bytes(12)
    ct = AESGCM(k.keys[k.active]).encrypt(nonce, plaintext.encode(), aad.encode())
    return f"{PREFIX}:{k.active}:{_b64e(nonce + ct)}"


def decrypt(token: str, aad: str) -> str:
    try:
        prefix, kid, body = token.split(":", 2)
    except ValueError as exc:
        raise DecryptionError("not an encrypted value") from exc
    if prefix != PREFIX:
        raise DecryptionError("unknown format")
    key = field_keys().keys.get(kid)
    if key is None:
        raise DecryptionError(f"unknown key id {kid}")
    raw = _b64d(body)
    try:
        return _aead(key).decrypt(raw[:12], raw[12:], aad.encode()).decode()
    except InvalidTag as exc:
        raise DecryptionError("value does not decrypt under its key and column") from exc


def normalise(kind: str, value: str) -> str:
    value = unicodedata.normalize("NFKC", value).strip()
    if kind == "id_number":
        return value.upper()
    if kind == "email":
        return value.lower()
    return value


def blind_index(kind: str, value: str) -> str:
    msg = f"{kind}\x00{normalise(kind, value)}".encode()
    return hmac.new(field_keys().index_key, msg, hashlib.sha256).hexdigest()


# --- the archive key (closed accounts, rules R11.3) --------------------------------------------
# A key of its own, never one of the field keys: a sealed archive must not open with the keys the
# live site holds in memory for every request. From the environment (CPE_ARCHIVE_KEYS="a2:<b64>,
# a1:<b64>", CPE_ARCHIVE_ACTIVE_KEY), or in the embedded default from a JSON file next to the
# field-key file (settings.ARCHIVE_KEYS_FILE if set, else "<field file>" with "field" → "archive").
ARCHIVE_PREFIX = "a1"


@dataclass(frozen=True)
class ArchiveKeys:
    keys: dict  # key id -> 32 bytes
    active: str


def _archive_keys_file():
    explicit = getattr(settings, "ARCHIVE_KEYS_FILE", None)
    if explicit:
        return explicit
    field_file = settings.FIELD_KEYS_FILE
    if not field_file:
        return None
    name = field_file.name.replace("field", "archive")
    return field_file.with_name(name if name != field_file.name else "archive-" + field_file.name)


@lru_cache(maxsize=1)
def archive_keys() -> ArchiveKeys:
    raw = os.environ.get("CPE_ARCHIVE_KEYS")
    if raw:
        keys = {}
        for part in raw.split(","):
            kid, _, b64 = part.strip().partition(":")
            keys[kid] = _b64d(b64)
        active = os.environ.get("CPE_ARCHIVE_ACTIVE_KEY") or next(iter(keys))
    else:
        path = _archive_keys_file()
        if path is None:
            raise ImproperlyConfigured("CPE_ARCHIVE_KEYS must be set")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"active": "a1", "keys": {"a1": _b64e(secrets.token_bytes(32))}}, fh)
        data = json.loads(path.read_text())
        keys, active = {kid: _b64d(v) for kid, v in data["keys"].items()}, data["active"]
    for kid, key in keys.items():
        if len(key) != 32:
            raise ImproperlyConfigured(f"archive key {kid} is not 256 bits")
        if kid in field_keys().keys and key == field_keys().keys[kid]:
            raise ImproperlyConfigured("the archive key must differ from the field keys")
    if active not in keys:
        raise ImproperlyConfigured("active archive key missing")
    return ArchiveKeys(keys, active)


def archive_seal(plaintext: str, aad: str) -> tuple[str, str]:
    """Encrypt under the active archive key: (key id, ``a1:<key id>:<b64(nonce||ct)>``)."""
    k = archive_keys()
    nonce = secrets.token_bytes(12)
    ct = AESGCM(k.keys[k.active]).encrypt(nonce, plaintext.encode(), aad.encode())
    return k.active, f"{ARCHIVE_PREFIX}:{k.active}:{_b64e(nonce + ct)}"


def archive_open(token: str, aad: str, keys: dict | None = None) -> str:
    """Decrypt a sealed archive (``keys`` only for tests that try another key)."""
    try:
        prefix, kid, body = token.split(":", 2)
    except ValueError as exc:
        raise DecryptionError("not a sealed archive") from exc
    if prefix != ARCHIVE_PREFIX:
        raise DecryptionError("unknown format")
    key = (keys if keys is not None else archive_keys().keys).get(kid)
    if key is None:
        raise DecryptionError(f"unknown archive key id {kid}")
    raw = _b64d(body)
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], aad.encode()).decode()
    except InvalidTag as exc:
        raise DecryptionError("archive does not decrypt under its key") from exc
