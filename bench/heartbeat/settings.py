"""The platform as production runs it (PostgreSQL, Redis sessions/cache), plus two bench-only
routes: a trivial Django JSON view. DEBUG off."""

import os

from config.settings.base import *  # noqa: F401,F403
from config.settings.base import VAR_DIR

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]
FIELD_KEYS_FILE = VAR_DIR / "keys" / "bench-field-keys.json"
ROOT_URLCONF = "bench.heartbeat.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
# The heartbeat hot path (ADR 0003 "Speed"), as production sets it.
LEARNING_HOTPATH = "redis"
