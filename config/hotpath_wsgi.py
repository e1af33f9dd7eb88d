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
    from cpe.learning import hotpath
    from cpe.learning.errors import LearningError

    d = door()

    def heartbeat(environ, start_response, key, path):
        try:
            got = d.admit(environ, key, path)
            if not isinstance(got, dict):  # refused before the judgement
                return d.send(start_response, got)
            try:
                result = hotpath.beat(**got)
            except LearningError as exc:  # a refusal, or the play state's Redis unavailable (503)
                return d.send(start_response, d.refused(environ, exc))
            return d.send(start_response, d.accepted(environ, result))
        finally:
            d.finish()

    def application(environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" and "HTTP_X_PLAY_TOKEN" in environ:
            path = environ.get("PATH_INFO", "")
            m = ROUTE.match(path)
            if m and hotpath.enabled():
                try:
                    return heartbeat(environ, start_response, m.group(1), path)
                except Exception:
                    log.exception("heartbeat failed")
                    return d.send(
                        start_response, d.answer(environ, "500 Internal Server Error", {"detail": "error"})
                    )
        return django_app(environ, start_response)

    return application


class Door:
    """What the door decides for one heartbeat request, apart from the server that carries it:
    `admit` (the checks before the judgement: host, token, body, ban, maintenance) gives either
    the keyword arguments of `hotpath.beat` / `hotpath.beat_steps` or an answer; `accepted` and
    `refused` turn the judgement's result or refusal into the answer. An answer is
    (status line, headers, body bytes). The WSGI route above uses it; a server that batches the
    Redis commands of concurrent reports (bench/heartbeat/aio_door.py) uses the same one."""

    def __init__(self):
        from django.conf import settings
        from django.core.signals import request_finished
        from django.db import connections
        from django.http import parse_cookie
        from django.utils import timezone

        from cpe.core.front import host_allowed, response_headers
        from cpe.core.net import client_ip
        from cpe.learning import hotpath
        from cpe.learning.api import beat_body
        from cpe.learning.services import web_session_hash
        from cpe.moderation.middleware import ban_api_body, network_ban
        from cpe.notices.middleware import maintenance_api_answer, maintenance_refuses
        from cpe.notices.selectors import maintenance_now

        self._settings, self._finished, self._connections = settings, request_finished, connections
        self._parse_cookie, self._now, self._host_allowed = parse_cookie, timezone.now, host_allowed
        self._response_headers, self._client_ip, self._hotpath = response_headers, client_ip, hotpath
        self._beat_body, self._web_session_hash = beat_body, web_session_hash
        self._ban_api_body, self._network_ban = ban_api_body, network_ban
        self._maintenance = (maintenance_now, maintenance_refuses, maintenance_api_answer)
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # made once

    def answer(self, environ, status: str, data, extra=()):
        body = self._encode(data).encode()
        headers = self._response_headers(environ)
        headers += [("Cache-Control", "no-store"), ("Content-Length", str(len(body))), *extra]
        return status, headers, body

    @staticmethod
    def send(start_response, answer):
        status, headers, body = answer
        start_response(status, headers)
        return [body]

    def web_session(self, environ) -> str:
        """The keyed hash of the request's session cookie ("" without one): the play token alone
        earns nothing, the report must come from the web session the player was started in."""
        raw = environ.get("HTTP_COOKIE")
        name = self._settings.SESSION_COOKIE_NAME
        return self._web_session_hash(self._parse_cookie(raw).get(name) if raw else None)

    def read_report(self, environ):
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

    def closed(self, environ, path, at):
        """(status, body, headers) when a ban or a maintenance window refuses the request, as the
        middleware answers /api/ (the same functions decide); else None."""
        ban = self._network_ban(environ, path, "POST", at)
        if ban is not None:
            return "403 Forbidden", self._ban_api_body(ban), ()
        maintenance_now, maintenance_refuses, maintenance_api_answer = self._maintenance
        phase, notice = maintenance_now(at)
        if maintenance_refuses(phase, path, is_staff=_nobody_is_staff):  # the token names no user
            body, retry = maintenance_api_answer(notice, at)
            return "503 Service Unavailable", body, (("Retry-After", retry),)
        return None

    def admit(self, environ, key: str, path: str):
        """The report's `hotpath.beat` keyword arguments (a dict), or the answer refusing it."""
        if not self._host_allowed(environ):
            return self.answer(environ, "400 Bad Request", {"detail": "bad host"})
        if not self._hotpath.token_valid(key, environ["HTTP_X_PLAY_TOKEN"]):
            return self.answer(environ, "401 Unauthorized", {"detail": "Unauthorized"})
        data, refused = self.read_report(environ)
        if refused is not None:
            return self.answer(environ, *refused)
        shut = self.closed(environ, path, self._now())
        if shut is not None:
            return self.answer(environ, *shut)
        return {
            "key": key,
            "seq": int(data["seq"]),
            "start": float(data["start"]),
            "position": float(data["position"]),
            "ip": self._client_ip(environ),
            "web_session": self.web_session(environ),
        }

    def accepted(self, environ, result):
        return self.answer(environ, "200 OK", self._beat_body(result))

    def refused(self, environ, exc):
        """A LearningError from the judgement: a refusal, or the play state's Redis unavailable."""
        return self.answer(
            environ,
            f"{exc.status} {_REASONS.get(exc.status, 'Error')}",
            {"code": exc.code, "message": exc.message},
            (("Retry-After", str(exc.retry_after)),) if exc.retry_after else (),
        )

    def finish(self):
        """After the judgement: a rare write (a flag, a completion) took a database connection;
        Django's end of request gives it back."""
        if self._connections["default"].connection is not None:
            self._finished.send(sender=None)


def door() -> Door:
    return Door()


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
