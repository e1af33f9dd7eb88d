"""Settings shared by every environment.

Everything that differs between a laptop and production comes from the environment:
DATABASE_URL (PostgreSQL; SQLite file in var/ when unset), REDIS_URL (cache, the copy of
the sessions in front of the database, throttles, Celery broker; database cache and eager tasks
when unset).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from cpe.ops.logs import logging_config as _ops_logging

from .storage import named_storages

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CPE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_ratelimit",
    "ninja",
    "axes",
    "django_otp",
    "csp",
    "cpe.core",
    "cpe.accounts",
    "cpe.agreements",
    "cpe.notices",
    "cpe.catalog",
    "cpe.learning",
    "cpe.orders",
    "cpe.invoicing",
    "cpe.exams",
    "cpe.credits",
    "cpe.reporting",
    "cpe.sandbox",
    "cpe.support",
    "cpe.backoffice",
    "cpe.moderation",
    "cpe.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cpe.core.content_policy.CSPMiddleware",  # django-csp's: Content-Security-Policy, a per-request nonce
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cpe.accounts.middleware.OTPMiddleware",  # django-otp's: request.user.is_verified() (staff)
    "cpe.moderation.middleware.BanMiddleware",
    "cpe.notices.middleware.MaintenanceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "cpe.accounts.middleware.SingleSessionMiddleware",
    "cpe.accounts.middleware.StaffSecondFactorMiddleware",  # after the single-session check
    "cpe.agreements.middleware.AgreementGateMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    "cpe.core.middleware.RedisUnavailableMiddleware",  # a view needing Redis while it is away: 503
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # {% url 'name' %} without arguments memoised per process (the header's links).
            "builtins": ["cpe.core.templatetags.url_memo"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cpe.core.context_processors.site",
                "csp.context_processors.nonce",  # {{ CSP_NONCE }} for the few inline scripts
                "cpe.orders.context_processors.orders",
                "cpe.invoicing.context_processors.invoicing",
                "cpe.notices.context_processors.maintenance",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.config(default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 1, "max_size": int(os.environ.get("DB_POOL_MAX", "8"))},
        # Parameters bound by the server, and a statement run this many times on a pooled
        # connection kept there as a prepared statement (psycopg's own threshold): the learners'
        # pages repeat the same few statements, and PostgreSQL then skips parsing and planning
        # them (its CPU per page about 40 % lower, bench/pages; decision 0023).
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "cpe.core.cache.ReusingRedisCache",  # Django's, one client per pool
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "cpe"),
        },
        # The copy of the sessions in front of PostgreSQL (decision 0018): the same Redis, short
        # timeouts, since a session the cache cannot give in time is read from the database.
        "sessions": {
            "BACKEND": "cpe.core.cache.ReusingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "cpe"),
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
    SESSION_CACHE_ALIAS = "sessions"
    # django-ratelimit lists only django-redis; Django's own RedisCache increments with Redis INCR,
    # which is atomic (docs/security.md, "HTTPS and the deploy check").
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
else:
    # Shared between processes (throttles must be), nothing else to start.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cpe_cache",
        }
    }
    SESSION_CACHE_ALIAS = None  # the database alone (a database cache in front would add a query)
    # The database cache increments with read-then-write: throttles can undercount under
    # concurrent requests. Acceptable for one person trying the platform; production and
    # CI set REDIS_URL, whose increment is atomic.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]
# Sessions in the database, keyed by a keyed hash of the session key, read through the cache
# named by SESSION_CACHE_ALIAS; a failing cache falls back to the database (decision 0018).
SESSION_ENGINE = "cpe.accounts.sessions"
SESSION_COOKIE_AGE = 60 * 60 * 8
SESSION_COOKIE_HTTPONLY = True

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "cpe.accounts.auth.IdentifierBackend",
]
PASSWORD_HASHERS = [
    "cpe.core.hashers.LeanArgon2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not made of the person's name (and its pinyin), ID number, birth date or mobile.
    {"NAME": "cpe.accounts.password_validation.PersonalDataPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:dashboard"

# The client's address (cpe/core/net.py, docs/security.md): how many reverse proxies in front
# of the platform append to X-Forwarded-For (nginx alone: 1; a load balancer then nginx: 2).
# 0: none, REMOTE_ADDR is the client. Production must set it (deploy check cpe.E004).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT") or 0)

# django-axes: lock the (account, IP) pair, never the IP alone (axes defaults lock by IP forever).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "cpe.accounts.auth.axes_username"
AXES_LOCKOUT_CALLABLE = "cpe.accounts.views.lockout"
AXES_CLIENT_IP_CALLABLE = "cpe.core.net.lockout_address"
AXES_ENABLE_ADMIN = False

RATELIMIT_VIEW = "cpe.core.views.ratelimited"
RATELIMIT_IP_META_KEY = "cpe.core.net.ratelimit_ip"  # key="ip" is the client, behind the proxies too
RATELIMIT_IPV6_MASK = 64  # an IPv6 client is its /64 (throttles and the sign-in lockout alike)
RATELIMIT_USE_CACHE = "default"

LANGUAGE_CODE = "zh-hans"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# One way to write a date and a time for people (config/formats/zh_Hans/formats.py); the
# settings repeat it for code that runs with no language active.
FORMAT_MODULE_PATH = ["config.formats"]
from config.formats.zh_Hans.formats import DATE_FORMAT, DATETIME_FORMAT, TIME_FORMAT  # noqa: E402, F401

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

# The API's docs and OpenAPI schema (config/api.py): staff only unless this is on (local, test).
API_DOCS_PUBLIC = False

# Celery: Redis when REDIS_URL is set, eager (in-process) otherwise.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = TIME_ZONE

# Ports to outside systems (conventions C3), chosen by dotted path.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "cpe.notices.sms.outbox.OutboxSmsBackend")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "cpe.notices.email.OutboxEmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "noreply@nmgjxjy.example")

# Payment gateways (cpe/orders/gateways/): the real adapters. Where they send requests and
# which keys they use comes from cpe/orders/gateways/config.py: the environment in production,
# the platform's own sandbox gateway (cpe/sandbox/) when PAYMENT_SANDBOX is on.
PAYMENT_GATEWAYS = {
    "alipay": "cpe.orders.gateways.alipay.AlipayGateway",
    "wechat": "cpe.orders.gateways.wechat.WechatPayGateway",
}
PAYMENT_SANDBOX = os.environ.get("PAYMENT_SANDBOX", "") == "1"
# With PAYMENT_SANDBOX on, the gateways and the Aliyun SMS adapter take their keys and identities
# from this module (the sandbox's own key set; production code never imports cpe.sandbox).
SANDBOX_KEYS = "cpe.sandbox.keys"
# The platform's public base URL (notify and return URLs, QR codes on invoices/certificates).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
INVOICE_PROVIDER = os.environ.get("INVOICE_PROVIDER", "cpe.invoicing.providers.local.LocalInvoiceProvider")


# Content-Security-Policy (django-csp; docs/security.md, "Content-Security-Policy"). Scripts only
# from this site or carrying the response's nonce; no plugins, no framing, no <base> elsewhere.
# Forms post here, and a payment form's answer redirects to the gateway's cashier (Alipay's
# gateway, WeChat Pay's H5 page), which form-action must allow; in the sandbox that is SITE_URL.
# hls.js plays through MediaSource blob: URLs, may run a blob: worker and fetches playlists, keys
# and segments from this site.
def _origin(url: str) -> str | None:
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def csp_form_action() -> list[str]:
    sources = ["'self'", _origin(SITE_URL)]
    if not PAYMENT_SANDBOX:
        from cpe.orders.gateways.config import ALIPAY_DEFAULT_GATEWAY

        sources += [
            _origin(os.environ.get("ALIPAY_GATEWAY_URL") or ALIPAY_DEFAULT_GATEWAY),
            "https://wx.tenpay.com",
        ]  # WeChat Pay H5: the h5_url's host
    return list(dict.fromkeys(s for s in sources if s))


def content_security_policy() -> dict:
    from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF, NONCE],
            "style-src": [SELF, UNSAFE_INLINE],  # style attributes in the admin and the templates
            "img-src": [SELF, "data:"],
            "media-src": [SELF, "blob:"],
            "worker-src": [SELF, "blob:"],
            "connect-src": [SELF],
            "font-src": [SELF],
            "object-src": [NONE],
            "base-uri": [SELF],
            "frame-ancestors": [NONE],
            "form-action": csp_form_action(),
        }
    }


CONTENT_SECURITY_POLICY = content_security_policy()

# Learning (cpe/learning): heartbeat cadence, where transcoded courseware lives, and how
# segments are delivered in production (nginx internal location, X-Accel-Redirect).
LEARNING_HEARTBEAT_SECONDS = int(os.environ.get("LEARNING_HEARTBEAT_SECONDS", "30"))
LEARNING_SIGNED_URL_TTL = int(os.environ.get("LEARNING_SIGNED_URL_TTL", "600"))
COURSEWARE_ROOT = Path(os.environ.get("COURSEWARE_ROOT", VAR_DIR / "courseware"))
# Staff exports (full ID numbers and mobiles): never under MEDIA_ROOT/STATIC_ROOT; served only by
# the staff download view (cpe.reporting.services.export_root refuses a served location).
EXPORT_ROOT = Path(os.environ.get("EXPORT_ROOT", VAR_DIR / "private" / "exports"))
COURSEWARE_ACCEL_PREFIX = os.environ.get("COURSEWARE_ACCEL_PREFIX", "")
# Named storages for courseware, exports and invoice PDFs (config/settings/storage.py,
# docs/storage.md): the directories above, or one private S3-compatible bucket when S3_BUCKET is set.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    **named_storages(os.environ),
}
COURSEWARE_SERVE_DIRECT = False
# "redis": token-authenticated heartbeats judged against Redis with write-behind to PostgreSQL
# (cpe/learning/hotpath.py); "orm": every heartbeat in PostgreSQL (no Redis needed).
LEARNING_HOTPATH = os.environ.get("LEARNING_HOTPATH") or ("redis" if REDIS_URL else "orm")

# The regional accounting personnel information system (docs/ais-interface.md): the HTTP adapter
# in cpe/reporting/clients/; the embedded default is the simulator in ais_sim/ on loopback.
AIS_CLIENT = os.environ.get("AIS_CLIENT", "cpe.reporting.clients.http.HttpAisClient")
AIS_BASE_URL = os.environ.get("AIS_BASE_URL", "http://127.0.0.1:8900")
AIS_PROVIDER_CODE = os.environ.get("AIS_PROVIDER_CODE", "CPE-DEMO")
AIS_DEMO_SECRET = "ais-sim-demo-secret-not-for-production"
AIS_SECRET = os.environ.get("AIS_SECRET", AIS_DEMO_SECRET)
AIS_TIMEOUT = os.environ.get("AIS_TIMEOUT", "3.05,10")
AIS_MAX_RETRIES = int(os.environ.get("AIS_MAX_RETRIES", "4"))
AIS_BACKOFF_BASE = float(os.environ.get("AIS_BACKOFF_BASE", "0.5"))
AIS_BACKOFF_CAP = float(os.environ.get("AIS_BACKOFF_CAP", "30"))
AIS_RETRY_AFTER_MAX = float(os.environ.get("AIS_RETRY_AFTER_MAX", "120"))

# Field encryption (cpe/core/crypto.py): keys from the environment, or a file
# generated on first run in the embedded default (local settings only).
FIELD_KEYS_FILE = None

# The audit log (cpe/core/audit.py, docs/security.md "The audit log"): an HMAC chain under the
# keys in CPE_AUDIT_KEYS / CPE_AUDIT_ACTIVE_KEY (local and test settings: a file generated next
# to the field keys; production: required, deploy check cpe.E005). Its head is appended every
# AUDIT_HEAD_INTERVAL seconds to AUDIT_HEADS_FILE, outside the database, and audit_verify
# compares the two. AUDIT_PLAIN_MAX_SEQ: the last event allowed to carry a plain (pre-key) hash;
# None accepts any plain start of the chain.
AUDIT_KEYS_FILE = None
AUDIT_HEADS_FILE = Path(os.environ.get("CPE_AUDIT_HEADS_FILE") or VAR_DIR / "audit-heads.log")
AUDIT_HEAD_INTERVAL = int(os.environ.get("CPE_AUDIT_HEAD_INTERVAL") or 300)
AUDIT_PLAIN_MAX_SEQ = None

SITE_NAME = "内蒙古会计人员继续教育平台"
SUPPORT_PHONE = os.environ.get("SUPPORT_PHONE", "0471-0000000")
SUPPORT_EMAIL = os.environ.get("SUPPORT_EMAIL", "support@nmgjxjy.example")

# --- Operations (cpe/ops, docs/deploy.md "Health, metrics, logs") ------------------------------
# Logs: LOG_FORMAT json (production's default) or text; each line carries the request id.
# LOG_ACCESS=1 adds one line per request (nginx keeps the access log otherwise).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "WARNING")
LOG_ACCESS = os.environ.get("LOG_ACCESS", "") == "1"
LOGGING = _ops_logging(LOG_FORMAT, LOG_LEVEL, LOG_ACCESS)
# Who may read /-/live, /-/ready and /-/metrics (the client address cpe.core.net.client_ip
# gives, so behind nginx the browser's): comma-separated networks. Loopback by default; add
# the monitoring host's and the load balancer's addresses in production.
OPS_ALLOWED_NETWORKS = [
    n for n in os.environ.get("OPS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128").split(",") if n
]

CELERY_BEAT_SCHEDULE = {
    "close-expired-orders": {"task": "cpe.orders.tasks.close_expired_orders", "schedule": 60.0},
    "resume-refunds": {"task": "cpe.orders.tasks.resume_refunds", "schedule": 300.0},
    "enrolment-reminders": {"task": "cpe.learning.tasks.enrolment_reminders", "schedule": 3600.0},
    "invoice-reverse-sweep": {"task": "cpe.invoicing.tasks.invoice_reverse_sweep", "schedule": 3600.0},
    "flush-heartbeats": {
        "task": "cpe.learning.tasks.flush_heartbeats",
        "schedule": float(LEARNING_HEARTBEAT_SECONDS),
    },
    "ais-report-sweep": {"task": "cpe.reporting.tasks.ais_report_sweep_task", "schedule": 60.0},
    "ais-recheck-sweep": {"task": "cpe.reporting.tasks.ais_recheck_sweep_task", "schedule": 900.0},
    "exports-expire": {"task": "cpe.reporting.tasks.exports_expire_task", "schedule": 3600.0},
    # Closed accounts: archives past their purge date; closing confirmations wiped once sent.
    "closed-accounts-purge": {"task": "cpe.accounts.tasks.closed_accounts_purge", "schedule": 3600.0},
    # Web sessions past their expiry (the database copy; the cache forgets its own): decision 0018.
    "sessions-clear-expired": {"task": "cpe.accounts.tasks.sessions_clear_expired", "schedule": 3600.0},
    # The audit chain's head, written outside the database (see AUDIT_HEADS_FILE above).
    "audit-head-record": {"task": "cpe.core.tasks.audit_head_record", "schedule": float(AUDIT_HEAD_INTERVAL)},
}
# Any worker may run a beat task: on several nodes, send the head recording to the one queue
# consumed on the host that keeps AUDIT_HEADS_FILE (`celery worker -Q celery,<queue>`).
if os.environ.get("CPE_AUDIT_HEAD_QUEUE"):
    CELERY_TASK_ROUTES = {"cpe.core.tasks.audit_head_record": {"queue": os.environ["CPE_AUDIT_HEAD_QUEUE"]}}

# --- The AIS-report queue (deploy/systemd/cpe-ais.service, docs/deploy.md) --------------------
# With CPE_AIS_QUEUE set, the AIS tasks go to that queue, consumed by a worker of their own: a
# slow or failing AIS then never delays transcodes, exports or the heartbeat write-behind.
if os.environ.get("CPE_AIS_QUEUE"):
    CELERY_TASK_ROUTES = {
        **globals().get("CELERY_TASK_ROUTES", {}),
        **{
            f"cpe.reporting.tasks.{name}": {"queue": os.environ["CPE_AIS_QUEUE"]}
            for name in (
                "ais_person_check_task",
                "ais_recheck_sweep_task",
                "ais_report_send_task",
                "ais_report_sweep_task",
            )
        },
    }
