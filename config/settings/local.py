"""The embedded default: one person trying the platform on one machine."""

import os as _os
import secrets

from .base import *  # noqa: F401,F403
from .base import REDIS_URL, VAR_DIR

DEBUG = True

# `make run CLOCK=2027-01-02T09:00:00+08:00` tries the platform on another date: every process it
# starts moves its wall clock by the same offset (time-machine, a development package; monotonic
# clocks and sleeps stay real). Only in this embedded default, never in production settings.
if _os.environ.get("CPE_DEV_CLOCK_OFFSET"):
    import time as _time

    import time_machine as _time_machine

    _time_machine.travel(_time.time() + float(_os.environ["CPE_DEV_CLOCK_OFFSET"]), tick=True).start()
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

_secret_file = VAR_DIR / "secret_key"
if not SECRET_KEY:  # noqa: F405
    if not _secret_file.exists():
        _secret_file.write_text(secrets.token_urlsafe(50))
        _secret_file.chmod(0o600)
    SECRET_KEY = _secret_file.read_text().strip()

FIELD_KEYS_FILE = VAR_DIR / "keys" / "field-keys.json"

PAYMENT_SANDBOX = True
API_DOCS_PUBLIC = True  # /api/docs without signing in (staff only in production)
SITE_URL = _os.environ.get("SITE_URL", f"http://127.0.0.1:{_os.environ.get('PORT', '8000')}")

# Segments served by Django only here (one person trying it); nginx in production.
COURSEWARE_SERVE_DIRECT = True
# Background jobs without Redis: a Celery worker on a filesystem transport, which `make run`
# starts, so a transcode never runs inside a web request. With REDIS_URL set, Redis is used.
if not REDIS_URL:  # noqa: F405
    CELERY_TASK_ALWAYS_EAGER = False
    CELERY_BROKER_URL = "filesystem://"
    _celery_dir = VAR_DIR / "celery"
    _celery_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir),
        "data_folder_out": str(_celery_dir),
        "control_folder": str(_celery_dir / "control"),  # not ./control in the working tree
        "visibility_timeout": 6 * 3600,
    }
