"""Test settings: PostgreSQL when DATABASE_URL is set, SQLite otherwise."""

import os

from .base import *  # noqa: F401,F403
from .base import VAR_DIR
from .storage import named_storages

DEBUG = False
SECRET_KEY = "test-only-not-a-secret"
ALLOWED_HOSTS = ["*"]
FIELD_KEYS_FILE = VAR_DIR / "keys" / "test-field-keys.json"
# Audit keys: var/keys/test-audit-keys.json (next to the field keys). No heads file: the test
# database starts empty each run; the tests that record heads pass their own file.
AUDIT_HEADS_FILE = None
STATIC_URL = "/static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # The local filesystem, whatever S3_* the shell has: the S3 tests point these at their own
    # S3-compatible server (cpe/core/tests/s3.py).
    **named_storages({}),
}
CELERY_TASK_ALWAYS_EAGER = True
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PAYMENT_SANDBOX = True
API_DOCS_PUBLIC = True  # /api/docs without signing in (staff only in production)
COURSEWARE_SERVE_DIRECT = True
# Tests never reach a simulator a developer left running on 8900: the ones that need the
# AIS start their own (cpe/reporting/tests/conftest.py, e2e/conftest.py).
AIS_BASE_URL = "http://127.0.0.1:9"
AIS_MAX_RETRIES = 1
AIS_BACKOFF_BASE = 0.01
