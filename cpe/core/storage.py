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
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.http import FileResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

# How long a signed link to an export or an invoice PDF works: long enough for the browser to
# follow the redirect at once, too short to be worth passing on.
PRIVATE_URL_TTL = 60


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
    """A prefix of the private bucket. `signed_url` is the only way a browser gets an object."""

    def get_default_settings(self):
        return {**super().get_default_settings(), "cdn_base_url": None}

    def signed_url(self, name: str, *, expires_in: int, download_name: str = "",
                   content_type: str = "") -> str:
        params = {}
        if download_name:
            params["ResponseContentDisposition"] = content_disposition_header(True, download_name)
        if content_type:
            params["ResponseContentType"] = content_type
        url = self.url(name, parameters=params, expire=max(1, int(expires_in)))
        if self.cdn_base_url:
            # The CDN forwards the path and the whole query to the bucket, which checks the
            # signature (made for the bucket's host, which the CDN sends upstream).
            cdn, signed = urlsplit(self.cdn_base_url), urlsplit(url)
            url = urlunsplit((cdn.scheme, cdn.netloc, cdn.path.rstrip("/") + signed.path, signed.query, ""))
        return url


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


def signed_url(store, name: str, *, expires_in: int = PRIVATE_URL_TTL, download_name: str = "",
               content_type: str = "") -> str | None:
    """A short-lived signed URL for `name` in `store`, or None when the store is the local
    filesystem (the platform then streams the file itself)."""
    if not is_object_store(store):
        return None
    return store.signed_url(name, expires_in=expires_in, download_name=download_name, content_type=content_type)


def file_response(store, name: str, *, download_name: str, content_type: str = "application/octet-stream"):
    """Hand a private file to the browser that has just passed the caller's permission check:
    a redirect to a signed URL (object store) or the file streamed (filesystem). Raises
    FileNotFoundError when the file is not there."""
    if is_object_store(store):
        if not store.exists(name):
            raise FileNotFoundError(name)
        resp = HttpResponseRedirect(signed_url(store, name, download_name=download_name, content_type=content_type))
    else:
        resp = FileResponse(store.open(name, "rb"), as_attachment=True, filename=download_name,
                            content_type=content_type)
    resp["Cache-Control"] = "private, no-store"
    resp["Referrer-Policy"] = "no-referrer"   # the signed URL never leaks to another site
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
