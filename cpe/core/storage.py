"""The named storages (config/settings/storage.py) and how a private file reaches a browser.

Two backends:
- SettingRootStorage: the local filesystem (embedded default) under a directory named by a
  setting, read at each use;
- PrivateS3Storage: django-storages' S3 backend (boto3) on a private bucket, which can hand out
  short-lived signed GET URLs, optionally through a CDN in front of the bucket.

A private file reaches a browser only after the platform's own permission check, in
`file_response`: a redirect to a signed URL that lives PRIVATE_URL_TTL seconds (object store),
or the file streamed by the platform (filesystem). Nothing here ever makes an object public.
"""

import hashlib
import hmac
import logging
import os
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

# How long a signed link to an export or an invoice PDF works: long enough for the browser to
# follow the redirect at once, too short to be worth passing on (defined with the settings).
from config.settings.storage import PRIVATE_URL_TTL  # noqa: F401 (used here and by callers)

log = logging.getLogger(__name__)


class SettingRootStorage(FileSystemStorage):
    """The filesystem under `settings.<root_setting>/<subdir>`, read at each use (tests and
    `make run` move COURSEWARE_ROOT, EXPORT_ROOT, MEDIA_ROOT after the storage exists)."""

    def __init__(self, root_setting: str, subdir: str = "", **kwargs):
        self.root_setting, self.subdir = root_setting, subdir
        super().__init__(**kwargs)

    @property
    def base_location(self):
        root = Path(getattr(settings, self.root_setting))
        return str(root / self.subdir) if self.subdir else str(root)

    @property
    def location(self):
        return os.path.abspath(self.base_location)


class PrivateS3Storage(S3Storage):
    """A prefix of the private bucket. `signed_url`/`signed_urls` are the only way a browser
    gets an object."""

    def get_default_settings(self):
        return {**super().get_default_settings(), "cdn_base_url": None}

    def signed_url(
        self, name: str, *, expires_in: int, download_name: str = "", content_type: str = ""
    ) -> str:
        """One presigned GET URL (botocore), through the CDN if one is configured."""
        params = {}
        if download_name:
            params["ResponseContentDisposition"] = content_disposition_header(True, download_name)
        if content_type:
            params["ResponseContentType"] = content_type
        return self._via_cdn(self.url(name, parameters=params, expire=max(1, int(expires_in))))

    def signed_urls(self, items: list[tuple[str, int]], *, content_type: str = "") -> list[str]:
        """Presigned GET URLs for many objects at once (a playlist's segments): [(name, expires_in)]
        in, URLs in the same order out. botocore presigns the first; the rest are signed here
        with the same date, scope, host and parameters (AWS Signature Version 4, query-string
        form): one HMAC each instead of a pass through botocore's request pipeline. The first is
        signed here too and must come out equal to botocore's, otherwise botocore signs them all."""
        if not items:
            return []
        params = {"ResponseContentType": content_type} if content_type else {}
        keys = [self._normalize_name(clean_name(n)) for n, _e in items]
        expiries = [max(1, int(e)) for _n, e in items]
        first = self.url(items[0][0], parameters=params, expire=expiries[0])
        signer = None
        if self.access_key and self.secret_key and not self.security_token:
            signer = _QuerySigner.from_url(first, self.secret_key, keys[0])
        if signer is None or signer.sign(keys[0], expiries[0]) != first:
            if signer is not None:
                log.warning("hand-made presigned URL differs from botocore's; botocore signs every URL")
            urls = [first] + [
                self.url(n, parameters=params, expire=e)
                for (n, _), e in zip(items[1:], expiries[1:], strict=True)
            ]
        else:
            urls = [first] + [signer.sign(k, e) for k, e in zip(keys[1:], expiries[1:], strict=True)]
        return [self._via_cdn(u) for u in urls]

    def _via_cdn(self, url: str) -> str:
        if not self.cdn_base_url:
            return url
        # The CDN forwards the path and the whole query to the bucket, which checks the
        # signature (made for the bucket's host, which the CDN sends upstream).
        cdn, signed = urlsplit(self.cdn_base_url), urlsplit(url)
        return urlunsplit((cdn.scheme, cdn.netloc, cdn.path.rstrip("/") + signed.path, signed.query, ""))


_UNRESERVED = "-_.~"


def _q(value: str, safe: str = _UNRESERVED) -> str:
    return quote(value, safe=safe)


class _QuerySigner:
    """Signs GET URLs exactly as one that botocore made (same scheme, host, path prefix, date,
    credential scope and extra parameters), varying only the object key and X-Amz-Expires."""

    def __init__(self, *, scheme: str, host: str, prefix: str, params: dict, key: bytes):
        self.scheme, self.host, self.prefix, self.key = scheme, host, prefix, key
        self.amz_date = params["X-Amz-Date"]
        self.scope = params["X-Amz-Credential"].split("/", 1)[1]
        # Everything but X-Amz-Expires is the same in every URL: quote it once, around a gap.
        marker = "\0"
        with_gap = {**params, "X-Amz-Expires": marker}
        canonical = "&".join(
            f"{_q(k)}={marker if v == marker else _q(v)}" for k, v in sorted(with_gap.items())
        )
        ordered = "&".join(f"{_q(k)}={marker if v == marker else _q(v)}" for k, v in with_gap.items())
        self.canonical_parts = canonical.split(marker)
        self.query_parts = ordered.split(marker)

    @classmethod
    def from_url(cls, url: str, secret: str, object_key: str) -> "_QuerySigner | None":
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        quoted = _q(object_key, "/" + _UNRESERVED)
        if (
            params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256"
            or params.get("X-Amz-SignedHeaders") != "host"
            or "X-Amz-Date" not in params
            or not parts.path.endswith("/" + quoted)
        ):
            return None
        credential = params.get("X-Amz-Credential", "").split("/")  # key id/day/region/service/aws4_request
        if len(credential) != 5:
            return None
        _key_id, day, region, service, terminal = credential
        key = hmac.new(("AWS4" + secret).encode(), day.encode(), hashlib.sha256).digest()
        for part in (region, service, terminal):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        params.pop("X-Amz-Signature", None)
        return cls(
            scheme=parts.scheme, host=parts.netloc, prefix=parts.path[: -len(quoted)], params=params, key=key
        )

    def sign(self, object_key: str, expires_in: int) -> str:
        path = self.prefix + _q(object_key, "/" + _UNRESERVED)
        expires = str(int(expires_in))
        canonical_query = expires.join(self.canonical_parts)
        canonical = f"GET\n{path}\n{canonical_query}\nhost:{self.host}\n\nhost\nUNSIGNED-PAYLOAD"
        to_sign = (
            f"AWS4-HMAC-SHA256\n{self.amz_date}\n{self.scope}\n"
            + hashlib.sha256(canonical.encode()).hexdigest()
        )
        signature = hmac.new(self.key, to_sign.encode(), hashlib.sha256).hexdigest()
        return (
            f"{self.scheme}://{self.host}{path}?{expires.join(self.query_parts)}&X-Amz-Signature={signature}"
        )


class NamedStorage(Storage):
    """`storages[name]` looked up at each use. A FileField evaluates its `storage` callable once,
    at import; this proxy makes the field follow STORAGES as it is when the file is used."""

    def __init__(self, name: str):
        self._name = name

    def __getattribute__(self, attr):
        if attr == "_name" or attr.startswith("__"):
            return object.__getattribute__(self, attr)
        return getattr(storages[object.__getattribute__(self, "_name")], attr)


def is_object_store(store) -> bool:
    """True for the S3 backend (or a NamedStorage standing for it)."""
    return callable(getattr(store, "signed_url", None))


def signed_url(
    store, name: str, *, expires_in: int = PRIVATE_URL_TTL, download_name: str = "", content_type: str = ""
) -> str | None:
    """A short-lived signed URL for `name` in `store`, or None when the store is the local
    filesystem (the platform then streams the file itself)."""
    if not is_object_store(store):
        return None
    return store.signed_url(
        name, expires_in=expires_in, download_name=download_name, content_type=content_type
    )


def file_response(store, name: str, *, download_name: str, content_type: str = "application/octet-stream"):
    """Hand a private file to the browser that has just passed the caller's permission check:
    a redirect to a signed URL (object store) or the file streamed (filesystem). Raises
    FileNotFoundError when the file is not there; answers 503 when the store cannot be reached."""
    if is_object_store(store):
        try:
            found = store.exists(name)
        except (BotoCoreError, ClientError) as exc:
            log.warning("object store unavailable for %s: %s", name, exc)
            return store_unavailable()
        if not found:
            raise FileNotFoundError(name)
        resp = HttpResponseRedirect(
            signed_url(store, name, download_name=download_name, content_type=content_type)
        )
    else:
        resp = FileResponse(
            store.open(name, "rb"), as_attachment=True, filename=download_name, content_type=content_type
        )
    resp["Cache-Control"] = "private, no-store"
    resp["Referrer-Policy"] = "no-referrer"  # the signed URL never leaks to another site
    return resp


def store_unavailable() -> HttpResponse:
    resp = HttpResponse(
        "文件存储暂时无法访问，请稍后再试。", status=503, content_type="text/plain; charset=utf-8"
    )
    resp["Retry-After"] = "30"
    return resp


def delete_folder(store, folder: str) -> int:
    """Delete every file directly in `folder` (a rendition's folder). Returns how many."""
    try:
        _dirs, files = store.listdir(folder)
    except FileNotFoundError:
        return 0
    for f in files:
        store.delete(f"{folder}/{f}")
    if not is_object_store(store):
        try:
            os.rmdir(store.path(folder))
        except OSError:
            pass
    return len(files)


def courseware():
    return storages["courseware"]


def courseware_sources():
    return storages["courseware_sources"]


def exports():
    return storages["exports"]


def documents():
    return storages["documents"]
