"""The heartbeat's front door (ADR 0003 "Speed"): a WSGI route in front of Django's middleware
for `POST /api/learning/sessions/<key>/heartbeat` carrying `X-Play-Token`, when the Redis hot
path is on. Everything else (and a heartbeat without the token, or on the ORM path) goes to
Django unchanged.

Why outside the middleware stack: the request is authorised by the play token alone, so none
of session, authentication, CSRF, messages, locale, htmx, single-session, agreement gate, axes
or ratelimit has anything to do, yet on every request several of them would load the session
and the user. What this door keeps of them, each by calling the one definition the
middleware uses too (no copy here): host validation (Django's own `get_host`, through
`cpe.core.front.host_allowed`), the headers SecurityMiddleware/XFrameOptionsMiddleware add
(`cpe.core.front.response_headers`), the network ban (`cpe.moderation.middleware.network_ban`,
`ban_api_body`) and the maintenance 503 (`cpe.notices.middleware.maintenance_refuses`,
`maintenance_api_answer`). Of its own: `Cache-Control: no-store`, a body size limit, the
session cookie (only its keyed hash, compared with the one the play session was started in:
the token alone earns nothing; the account's sign-out, ban, termination, closing and hold revoke
the play session itself, so neither the session store nor the user row is read here), and
the same validation (422) and answers as the documented ninja route (cpe/learning/api.py), whose
`beat_body` it reuses. The judgement is `hotpath.beat`, the same function the ninja route calls,
which applies `policy.heartbeat`. Redis unreachable (or its connection broken where a command
could not be sent again): a 503 with a Chinese message (code "unavailable") and Retry-After,
never a 500 (cpe/core/redis_wire.py says when a command is sent again).

    application = wrap(get_wsgi_application())
"""

import json
import logging
import re

log = logging.getLogger("cpe.learning.hotpath")
ROUTE = re.compile(r"^/api/learning/sessions/([0-9a-f]{32})/heartbeat$")
MAX_BODY = 4096
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    503: "Service Unavailable",
}


def wrap(django_app):
    from django.conf import settings
    from django.core.signals import request_finished
    from django.db import connections
    from django.http import parse_cookie
    from django.utils import timezone

    from cpe.core.front import host_allowed, response_headers
    from cpe.core.net import client_ip
    from cpe.learning import hotpath
    from cpe.learning.api import beat_body
    from cpe.learning.errors import LearningError
    from cpe.learning.services import web_session_hash
    from cpe.moderation.middleware import ban_api_body, network_ban
    from cpe.notices.middleware import maintenance_api_answer, maintenance_refuses
    from cpe.notices.selectors import maintenance_now

    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # made once, not per answer

    def answer(environ, start_response, status: str, data, extra=()):
        body = encode(data).encode()
        headers = response_headers(environ)
        headers += [("Cache-Control", "no-store"), ("Content-Length", str(len(body))), *extra]
        start_response(status, headers)
        return [body]

    def web_session(environ) -> str:
        """The keyed hash of the request's session cookie ("" without one): the play token alone
        earns nothing, the report must come from the web session the player was started in."""
        raw = environ.get("HTTP_COOKIE")
        return web_session_hash(parse_cookie(raw).get(settings.SESSION_COOKIE_NAME) if raw else None)

    def read_report(environ):
        """(report, None) or (None, (status, body)) for a body that is too large, not JSON or not
        a report (the ninja route's 413, 400 and 422)."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return None, ("413 Request Entity Too Large", {"detail": "body too large"})
        try:
            data = json.loads(environ["wsgi.input"].read(length) or b"null")
        except (ValueError, RecursionError):  # not JSON; nested past the parser's depth ("[[[[...")
            return None, ("400 Bad Request", {"detail": "Cannot parse request body"})
        errors = hotpath_validate(data)
        if errors:
            return None, ("422 Unprocessable Content", {"detail": errors})
        return data, None

    def closed(environ, path, at):
        """(status, body, headers) when a ban or a maintenance window refuses the request, as the
        middleware answers /api/ (the same functions decide); else None."""
        ban = network_ban(environ, path, "POST", at)
        if ban is not None:
            return "403 Forbidden", ban_api_body(ban), ()
        phase, notice = maintenance_now(at)
        if maintenance_refuses(phase, path, is_staff=_nobody_is_staff):  # the token names no user
            body, retry = maintenance_api_answer(notice, at)
            return "503 Service Unavailable", body, (("Retry-After", retry),)
        return None

    def heartbeat(environ, start_response, key, path):
        if not host_allowed(environ):
            return answer(environ, start_response, "400 Bad Request", {"detail": "bad host"})
        if not hotpath.token_valid(key, environ["HTTP_X_PLAY_TOKEN"]):
            return answer(environ, start_response, "401 Unauthorized", {"detail": "Unauthorized"})
        data, refused = read_report(environ)
        if refused is not None:
            return answer(environ, start_response, *refused)
        try:
            now = timezone.now()
            shut = closed(environ, path, now)
            if shut is not None:
                return answer(environ, start_response, *shut)
            r = hotpath.beat(
                key=key,
                seq=int(data["seq"]),
                start=float(data["start"]),
                position=float(data["position"]),
                ip=client_ip(environ),
                web_session=web_session(environ),
            )
        except LearningError as exc:  # a refusal, or the play state's Redis unavailable (503)
            return answer(
                environ,
                start_response,
                f"{exc.status} {_REASONS.get(exc.status, 'Error')}",
                {"code": exc.code, "message": exc.message},
                (("Retry-After", str(exc.retry_after)),) if exc.retry_after else (),
            )
        finally:
            if connections["default"].connection is not None:  # a rare write (flag, completion):
                request_finished.send(sender=None)  # Django's end of request: the connection goes back
        return answer(environ, start_response, "200 OK", beat_body(r))

    def application(environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" and "HTTP_X_PLAY_TOKEN" in environ:
            path = environ.get("PATH_INFO", "")
            m = ROUTE.match(path)
            if m and hotpath.enabled():
                try:
                    return heartbeat(environ, start_response, m.group(1), path)
                except Exception:
                    log.exception("heartbeat failed")
                    return answer(environ, start_response, "500 Internal Server Error", {"detail": "error"})
        return django_app(environ, start_response)

    return application


def _nobody_is_staff() -> bool:
    return False


def hotpath_validate(data) -> list:
    """BeatIn's constraints (cpe/learning/api.py), as ninja reports them (422)."""
    from cpe.learning.policy import MAX_SEQ

    if not isinstance(data, dict):
        return [
            {"type": "model_attributes_type", "loc": ["body", "payload"], "msg": "Input should be an object"}
        ]
    errors = []
    seq = data.get("seq")
    if isinstance(seq, float) and seq.is_integer():
        seq = int(seq)  # 7.0 is a JSON integer: the ninja route (pydantic) accepts it too
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1 or seq > MAX_SEQ:
        errors.append(
            {
                "type": "greater_than_equal",
                "loc": ["body", "payload", "seq"],
                "msg": "Input should be an integer >= 1",
            }
        )
    for name in ("start", "position"):
        v = data.get(name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 86400:
            errors.append(
                {
                    "type": "value_error",
                    "loc": ["body", "payload", name],
                    "msg": "Input should be a number in [0, 86400]",
                }
            )
    return errors
