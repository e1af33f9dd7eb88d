"""The heartbeat's front door (ADR 0003 "Speed"): a WSGI route in front of Django's middleware
for `POST /api/learning/sessions/<key>/heartbeat` carrying `X-Play-Token`, when the Redis hot
path is on. Everything else (and a heartbeat without the token, or on the ORM path) goes to
Django unchanged.

Why outside the middleware stack: the request is authorised by the play token alone, so none
of session, authentication, CSRF, messages, locale, htmx, single-session, agreement gate, axes
or ratelimit has anything to do, yet on every request several of them would load the session
and the user. What this door keeps of them: host validation (ALLOWED_HOSTS), the security
headers SecurityMiddleware/XFrameOptionsMiddleware would add, `Cache-Control: no-store`, a
body size limit, the IP ban (BanMiddleware) and the maintenance 503 (MaintenanceMiddleware), the
session cookie (only its keyed hash, compared with the one the play session was started in:
the token alone earns nothing; the account's sign-out, ban, termination, closing and hold revoke
the play session itself, so neither the session store nor the user row is read here), and
the same validation (422) and answers as the documented ninja route (cpe/learning/api.py), whose
`beat_body` it reuses. The judgement is `hotpath.beat`, the same function the ninja route calls,
which applies `policy.heartbeat`.

    application = wrap(get_wsgi_application())
"""

import json
import logging
import re

log = logging.getLogger("cpe.learning.hotpath")
ROUTE = re.compile(r"^/api/learning/sessions/([0-9a-f]{32})/heartbeat$")
MAX_BODY = 4096


def wrap(django_app):
    from django.conf import settings
    from django.core.signals import request_finished
    from django.db import connections
    from django.dispatch import receiver
    from django.http import parse_cookie
    from django.http.request import split_domain_port, validate_host
    from django.test.signals import setting_changed
    from django.utils import timezone

    from cpe.core.net import client_ip
    from cpe.learning import hotpath
    from cpe.learning.api import beat_body
    from cpe.learning.errors import LearningError
    from cpe.learning.services import web_session_hash
    from cpe.moderation.middleware import BANNED_MESSAGE
    from cpe.moderation.selectors import ip_banned
    from cpe.moderation.states import BanKind
    from cpe.notices.middleware import MAINTENANCE_MESSAGE
    from cpe.notices.selectors import maintenance_now

    conf = {}  # what the settings decide, worked out once per process (reset when tests change them)

    @receiver(setting_changed, weak=False)
    def _settings_changed(**kwargs):
        conf.clear()

    def configured():
        if not conf:
            conf["allowed"] = settings.ALLOWED_HOSTS or (
                [".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else []
            )
            conf["hosts"] = {}
            conf["headers"] = [
                ("Content-Type", "application/json"),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
                ("X-Frame-Options", "DENY"),
                ("Referrer-Policy", settings.SECURE_REFERRER_POLICY or "same-origin"),
                ("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY or "same-origin"),
            ]
            hsts = None
            if settings.SECURE_HSTS_SECONDS:
                hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
                if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
                    hsts += "; includeSubDomains"
            conf["hsts"], conf["proxy_ssl"] = hsts, settings.SECURE_PROXY_SSL_HEADER
        return conf

    def host_ok(c, host: str) -> bool:
        ok = c["hosts"].get(host)
        if ok is None:
            domain, _ = split_domain_port(host)
            ok = bool(domain) and validate_host(domain, c["allowed"])
            if len(c["hosts"]) < 256:  # the few names the site answers to (and not every probe)
                c["hosts"][host] = ok
        return ok

    def headers(environ, body: bytes):
        c = configured()
        h = [*c["headers"], ("Content-Length", str(len(body)))]
        if c["hsts"] and _secure(environ, c["proxy_ssl"]):
            h.append(("Strict-Transport-Security", c["hsts"]))
        return h

    def web_session(environ) -> str:
        """The keyed hash of the request's session cookie ("" without one): the play token alone
        earns nothing, the report must come from the web session the player was started in."""
        raw = environ.get("HTTP_COOKIE")
        return web_session_hash(parse_cookie(raw).get(settings.SESSION_COOKIE_NAME) if raw else None)

    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # made once, not per answer

    def answer(environ, start_response, status: str, data):
        body = encode(data).encode()
        start_response(status, headers(environ, body))
        return [body]

    def heartbeat(environ, start_response, key):
        if not host_ok(configured(), environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")):
            return answer(environ, start_response, "400 Bad Request", {"detail": "bad host"})
        if not hotpath.token_valid(key, environ["HTTP_X_PLAY_TOKEN"]):
            return answer(environ, start_response, "401 Unauthorized", {"detail": "Unauthorized"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return answer(
                environ, start_response, "413 Request Entity Too Large", {"detail": "body too large"}
            )
        try:
            data = json.loads(environ["wsgi.input"].read(length) or b"null")
        except (ValueError, RecursionError):  # not JSON; nested past the parser's depth ("[[[[...")
            return answer(environ, start_response, "400 Bad Request", {"detail": "Cannot parse request body"})
        errors = hotpath_validate(data)
        if errors:
            return answer(environ, start_response, "422 Unprocessable Content", {"detail": errors})
        try:
            now = timezone.now()
            if ip_banned(client_ip(environ), now) is not None:  # as BanMiddleware answers /api/
                return answer(
                    environ,
                    start_response,
                    "403 Forbidden",
                    {"code": "banned_network", "message": BANNED_MESSAGE[BanKind.NETWORK]},
                )
            if maintenance_now(now)[0] == "active":  # as MaintenanceMiddleware answers /api/
                return answer(
                    environ,
                    start_response,
                    "503 Service Unavailable",
                    {"code": "maintenance", "message": MAINTENANCE_MESSAGE},
                )
            r = hotpath.beat(
                key=key,
                seq=int(data["seq"]),
                start=float(data["start"]),
                position=float(data["position"]),
                ip=client_ip(environ),
                web_session=web_session(environ),
            )
        except LearningError as exc:
            return answer(
                environ,
                start_response,
                f"{exc.status} {_REASONS.get(exc.status, 'Error')}",
                {"code": exc.code, "message": exc.message},
            )
        finally:
            if connections["default"].connection is not None:  # a rare write (flag, completion):
                request_finished.send(sender=None)  # Django's end of request: the connection goes back
        return answer(environ, start_response, "200 OK", beat_body(r))

    def application(environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" and "HTTP_X_PLAY_TOKEN" in environ:
            m = ROUTE.match(environ.get("PATH_INFO", ""))
            if m and hotpath.enabled():
                try:
                    return heartbeat(environ, start_response, m.group(1))
                except Exception:
                    log.exception("heartbeat failed")
                    return answer(environ, start_response, "500 Internal Server Error", {"detail": "error"})
        return django_app(environ, start_response)

    return application


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}


def _secure(environ, hdr) -> bool:
    if hdr:
        return environ.get(hdr[0], "") == hdr[1]
    return environ.get("wsgi.url_scheme") == "https"


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
