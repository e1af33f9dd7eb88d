"""Where the platform's files live: one named storage per kind of file (Django's STORAGES).

Every read and write of these files goes through `django.core.files.storage.storages[name]`:
- "courseware": the HLS renditions (playlist and encrypted segments), one folder per rendition;
- "courseware_sources": the uploaded lecture videos the renditions are made from;
- "exports": staff exports of a year's results (full ID numbers and mobiles), 7-day life;
- "documents": invoice PDFs.

Embedded default: the local filesystem under COURSEWARE_ROOT/hls, COURSEWARE_ROOT/src,
EXPORT_ROOT and MEDIA_ROOT (each read at use, so tests and `make run` may move them).
With S3_BUCKET set: one private bucket of an S3-compatible store (Alibaba Cloud OSS, MinIO...),
one key prefix per storage, so that a lifecycle rule can expire the exports' prefix on its own.
docs/storage.md describes the variables and the bucket policy.

Pure: reads the environment mapping it is given, imports nothing from Django.
"""

FILESYSTEM_BACKEND = "cpe.core.storage.SettingRootStorage"
S3_BACKEND = "cpe.core.storage.PrivateS3Storage"

# name -> (setting naming the filesystem root, subdirectory under it, key prefix in the bucket,
#          extra filesystem options)
AREAS = {
    "courseware": ("COURSEWARE_ROOT", "hls", "courseware/hls", {}),
    "courseware_sources": ("COURSEWARE_ROOT", "src", "courseware/src", {}),
    "exports": (
        "EXPORT_ROOT",
        "",
        "private/exports",
        {"file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
    ),
    "documents": ("MEDIA_ROOT", "", "private/documents", {}),
}
ADDRESSING_STYLES = ("path", "virtual")
# Seconds a signed link to a private object lives unless the caller asks otherwise (exports,
# invoices, and any incidental FieldFile.url such as the admin's link to a video source).
PRIVATE_URL_TTL = 60


class StorageConfigError(ValueError):
    """A storage variable that cannot work; raised while the settings load."""


def named_storages(env) -> dict:
    """The STORAGES entries for AREAS, from the environment mapping `env`."""
    bucket = (env.get("S3_BUCKET") or "").strip()
    if not bucket:
        return {
            name: {
                "BACKEND": FILESYSTEM_BACKEND,
                "OPTIONS": {"root_setting": setting, "subdir": subdir, **fs_options},
            }
            for name, (setting, subdir, _prefix, fs_options) in AREAS.items()
        }
    style = (env.get("S3_ADDRESSING_STYLE") or "").strip().lower() or None
    if style is not None and style not in ADDRESSING_STYLES:
        raise StorageConfigError(f"S3_ADDRESSING_STYLE must be 'path' or 'virtual', not {style!r}")
    key_id = (env.get("S3_ACCESS_KEY_ID") or "").strip() or None
    secret = (env.get("S3_SECRET_ACCESS_KEY") or "").strip() or None
    if bool(key_id) != bool(secret):
        raise StorageConfigError("S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are set together or not at all")
    cdn = (env.get("CDN_BASE_URL") or "").strip().rstrip("/") or None
    if cdn is not None and not cdn.startswith(("https://", "http://")):
        raise StorageConfigError("CDN_BASE_URL must start with https:// (or http:// on a test machine)")
    common = {
        "bucket_name": bucket,
        "endpoint_url": (env.get("S3_ENDPOINT_URL") or "").strip() or None,
        "access_key": key_id,
        "secret_key": secret,
        "region_name": (env.get("S3_REGION") or "").strip() or None,
        "addressing_style": style,
        "signature_version": "s3v4",
        "default_acl": "private",  # never public-read, whatever the bucket's default
        "querystring_auth": True,  # every URL the store hands out is signed
        "querystring_expire": PRIVATE_URL_TTL,
        "file_overwrite": False,
    }
    out = {}
    for name, (_setting, _subdir, prefix, _fs) in AREAS.items():
        options = {**common, "location": prefix}
        if name == "courseware":
            # Rendition folders have random names and are written once: no existence check per
            # segment. Segments alone may go through a CDN in front of the bucket.
            options.update(file_overwrite=True, cdn_base_url=cdn)
        out[name] = {"BACKEND": S3_BACKEND, "OPTIONS": options}
    return out
