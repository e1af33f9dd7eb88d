"""Request ids and structured (JSON) logs.

Each request has one id: the `X-Request-ID` nginx sets (`proxy_set_header X-Request-ID
$request_id`, which overwrites whatever the client sent) when the platform runs behind
trusted proxies (TRUSTED_PROXY_COUNT > 0) and the value looks like an id; a new one
otherwise. The id is held in a context variable for the request's thread, added to every log
record by `RequestIdFilter`, and sent back in the response's `X-Request-ID`."""

import contextvars
import json
import logging
import re
import traceback
from datetime import datetime
from datetime import timezone as dt_timezone
from random import getrandbits as _bits

from django.conf import settings

HEADER = "HTTP_X_REQUEST_ID"
# nginx's $request_id is 32 hex digits; a UUID or a load balancer's id fits as well. Anything
# else (too long, spaces, quotes, control characters) is not taken into the logs.
_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
NO_REQUEST = "-"

request_id = contextvars.ContextVar("cpe_request_id", default=NO_REQUEST)


def new_id() -> str:
    """32 hex digits, like nginx's $request_id. An id correlates log lines; it guards nothing,
    so the fast generator will do (the random module is reseeded in each forked worker)."""
    return "%032x" % _bits(128)


def incoming_id(environ) -> str:
    """The id for this request: the trusted proxy's when there is one and it is well formed,
    else a new one. Without a trusted proxy a client could write any id into our logs."""
    raw = environ.get(HEADER)
    if raw and settings.TRUSTED_PROXY_COUNT > 0 and _ID.fullmatch(raw):
        return raw
    return new_id()


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (a handler filter: it sees every logger's records)."""

    def filter(self, record):
        record.request_id = request_id.get()
        return True


# Attributes every LogRecord has: what is not among them was passed with `extra=` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    the `extra=` fields, and the exception's traceback as one string."""

    def format(self, record):
        out = {
            "time": datetime.fromtimestamp(record.created, dt_timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", NO_REQUEST),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def logging_config(fmt: str, level: str = "WARNING", access: bool = False) -> dict:
    """The LOGGING setting: `json` (production) or `text`, the request id in both; `access`
    logs one line per request (logger cpe.access; nginx keeps the access log otherwise)."""
    formatter = (
        {"()": "cpe.ops.logs.JsonFormatter"}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "cpe.ops.logs.RequestIdFilter"}},
        "formatters": {"main": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "main", "filters": ["request_id"]}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"cpe.access": {"level": "INFO" if access else "WARNING"}},
    }
