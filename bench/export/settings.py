"""bench/export: the platform's production settings (PostgreSQL, Redis) with quiet logging."""

import os

from config.settings.base import *  # noqa: F401,F403
from config.settings.base import VAR_DIR

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]
FIELD_KEYS_FILE = VAR_DIR / "keys" / "bench-field-keys.json"
# The benchmark's export files apart from the embedded default's (outside MEDIA_ROOT, as required).
EXPORT_ROOT = VAR_DIR / "private" / "bench-exports"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
