"""Production: everything from the environment; no embedded stand-ins."""
import os

from .base import *  # noqa: F401,F403

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "31536000"))
SECURE_CONTENT_TYPE_NOSNIFF = True
COURSEWARE_SERVE_DIRECT = False
