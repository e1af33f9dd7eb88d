"""Production: everything from the environment; no embedded stand-ins.

HTTPS (docs/security.md, "HTTPS"): every request is redirected to HTTPS, browsers are told to
use nothing else (HSTS), cookies are sent over HTTPS only. The scheme a request came in on is
read from X-Forwarded-Proto only when the platform runs behind trusted proxies
(TRUSTED_PROXY_COUNT > 0); the nearest proxy must then set that header itself."""

import os

from .base import *  # noqa: F401,F403
from .base import TRUSTED_PROXY_COUNT


def _env_flag(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


DEBUG = False

# The nearest proxy terminates TLS and sets X-Forwarded-Proto (nginx:
# `proxy_set_header X-Forwarded-Proto $scheme;`, overwriting whatever the client sent). Without a
# proxy nobody vouches for the header: a client could claim https, so it is not read at all.
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Off only where the proxy itself answers plain HTTP with a redirect and must not be second-guessed.
SECURE_SSL_REDIRECT = _env_flag("SECURE_SSL_REDIRECT", True)
# One year. An operator rolling HTTPS out for the first time may start lower (HSTS_SECONDS=300).
SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "31536000"))
# Covers the subdomains of the host that sends it (www.example.cn -> *.www.example.cn): off if the
# platform is served from the bare domain and a sibling service still needs plain HTTP.
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_flag("HSTS_INCLUDE_SUBDOMAINS", True)
# The browsers' preload list is a commitment that outlives this deployment: the operator opts in.
SECURE_HSTS_PRELOAD = _env_flag("HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
COURSEWARE_SERVE_DIRECT = False
# Audit chain: no plain (pre-key) event is accepted past this seq. 0 for a database that started
# with keyed events; a database upgraded with history sets the last plain seq (docs/security.md).
AUDIT_PLAIN_MAX_SEQ = int(os.environ.get("CPE_AUDIT_PLAIN_MAX_SEQ") or 0)

# --- Operations (cpe/ops, docs/deploy.md "Health, metrics, logs") ------------------------------
# JSON logs unless LOG_FORMAT says otherwise; the Celery worker logs through the same handler
# (it would otherwise replace the root logger's with its own text format).
from cpe.ops.logs import logging_config as _ops_logging  # noqa: E402

from .base import LOG_ACCESS, LOG_LEVEL  # noqa: E402

LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
LOGGING = _ops_logging(LOG_FORMAT, LOG_LEVEL, LOG_ACCESS)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
