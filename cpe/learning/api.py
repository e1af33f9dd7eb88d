"""The player's JSON API (rules R7.2-7.4): start a play session, heartbeat, answer an attention
check, end. Starting needs the signed-in learner (session cookie + CSRF header); it returns a
play token, and the session's other calls are authorised by that token in the X-Play-Token
header (bound to the play session by an HMAC; a cross-site page can neither read nor send it,
so no CSRF token is needed) or, as before, by the session cookie + CSRF header. The token alone
earns nothing: every heartbeat must also carry the session cookie of the web session the play
session was started in, and a sign-out, sign-in elsewhere, ban, termination, closing or hold
revokes the account's play sessions (services.play_sessions_revoke). Every refusal
carries a stable code and a Chinese message, and every status is declared in the OpenAPI schema.

This router is the documented contract. With the Redis hot path on (hotpath.enabled()), the
heartbeat is judged by hotpath.beat here, and production also mounts the same route in front of
Django's middleware for requests carrying X-Play-Token (config/hotpath_wsgi.py): one rule set
(policy.heartbeat), one state (Redis), two doors."""

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from ninja import Field, Router, Schema
from ninja.responses import Status
from ninja.security import APIKeyHeader, django_auth

from cpe.core.net import client_ip

from . import hotpath, policy, services
from .errors import LearningError


class PlayGrant:
    """request.auth for a call authorised by the play token: it grants that one play session."""

    def __init__(self, key: str):
        self.key = key


class PlayToken(APIKeyHeader):
    """X-Play-Token: the token returned when the play session started (StartOut.token)."""

    param_name = "X-Play-Token"

    def authenticate(self, request, key):
        path_key = (
            getattr(request, "resolver_match", None) and request.resolver_match.kwargs.get("key")
        ) or ""
        if key and path_key and hotpath.token_valid(path_key, key):
            return PlayGrant(path_key)
        return None


play_auth = [PlayToken(), django_auth]
router = Router(tags=["学习"], auth=django_auth)


class Error(Schema):
    code: str = Field(description="稳定的错误代码，如 expired、superseded")
    message: str = Field(description="给学员看的中文说明")


class Unauthorized(Schema):
    detail: str | None = None
    code: str | None = Field(
        None,
        description="session_elsewhere：账号已在其他地方登录或已退出；"
        "unbound：播放凭证未随其登录会话使用（须带开始播放时的登录 Cookie）",
    )
    message: str | None = Field(None, description="给学员看的中文说明")


class Detail(Schema):
    """django-ninja's own refusals, before the route runs: 400 "Cannot parse request body" (the
    body is not JSON), 403 "CSRF check Failed" (session cookie without a matching X-CSRFToken)."""

    detail: str


class Invalid(Schema):
    """422: the body or a parameter does not fit the schema (django-ninja's validation answer)."""

    detail: list[dict] = Field(description="每个不符合的字段：type、loc、msg")


class StartIn(Schema):
    chapter_id: int


class Attention(Schema):
    token: str
    seconds_left: float = Field(description="剩余确认时间（秒），负数表示已超时、计时已暂停")


class StartOut(Schema):
    session: str = Field(description="播放会话标识，心跳等请求使用")
    token: str = Field(description="播放凭证：心跳、防挂机确认、结束请求放在 X-Play-Token 请求头中")
    playlist_url: str
    resume_at: float
    frontier: float = Field(description="已观看的最远位置（秒）；不能拖动到此位置之后（允许少量容差）")
    seek_tolerance: float
    duration: float
    watched_share: float
    completed: bool
    heartbeat_seconds: int


class BeatIn(Schema):
    seq: int = Field(ge=1, le=policy.MAX_SEQ, description="本播放会话内递增的序号")
    start: float = Field(ge=0, le=86400, description="本段连续播放的起点（秒）")
    position: float = Field(ge=0, le=86400, description="当前位置（秒）")


class BeatOut(Schema):
    credited: float = Field(description="本次计入的秒数")
    reason: str = Field(description="未全额计入的原因代码，空表示正常")
    watched_seconds: float
    watched_share: float
    frontier: float
    duration: float
    completed: bool
    completed_now: bool
    attention: Attention | None = None


class AnswerIn(Schema):
    token: str = Field(max_length=32)


class Ok(Schema):
    ok: bool = True


# 503: maintenance (notices' middleware), or the play state's Redis unreachable ("unavailable")
ERRORS = {
    400: Error | Detail,
    401: Unauthorized,
    403: Error | Detail,
    404: Error,
    409: Error,
    422: Invalid,
    503: Error,
}


def heartbeat_seconds() -> int:
    return int(getattr(settings, "LEARNING_HEARTBEAT_SECONDS", policy.HEARTBEAT_INTERVAL))


def _client_ip(request):
    return client_ip(request.META)


def _fail(exc: LearningError):
    if exc.retry_after:  # 503 "unavailable": when to ask again (the player waits at least this long)
        r = JsonResponse({"code": exc.code, "message": exc.message}, status=exc.status)
        r["Retry-After"] = str(exc.retry_after)
        return r
    return Status(exc.status, {"code": exc.code, "message": exc.message})


@router.post("/sessions", response={201: StartOut, **ERRORS}, summary="开始播放（成为本账号当前的播放窗口）")
def start(request, payload: StartIn):
    try:
        s = services.play_start(
            user=request.user,
            chapter_id=payload.chapter_id,
            web_session=request.session.session_key or "",
            ip=_client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except LearningError as exc:
        return _fail(exc)
    return Status(
        201,
        {
            "session": s.key,
            "token": hotpath.play_token(s.key),
            "playlist_url": reverse("learning:playlist", args=[s.key]),
            "resume_at": s.resume_at,
            "frontier": policy.frontier_of(s.progress.intervals),
            "seek_tolerance": policy.SEEK_TOLERANCE,
            "duration": s.duration,
            "watched_share": policy.watched_share(s.progress.intervals, s.duration),
            "completed": s.progress.completed_at is not None,
            "heartbeat_seconds": heartbeat_seconds(),
        },
    )


def _who(request, key):
    """(user_id to check the play session against or None, the user for the ORM path)."""
    if isinstance(request.auth, PlayGrant):
        return None, None
    return request.user.pk, request.user


@router.post(
    "/sessions/{key}/heartbeat",
    response={200: BeatOut, **ERRORS},
    auth=play_auth,
    summary="播放心跳（服务器计时）",
)
def heartbeat(request, key: str, payload: BeatIn):
    try:
        r = beat(request, key, payload.seq, payload.start, payload.position)
    except LearningError as exc:
        return _fail(exc)
    return Status(200, beat_body(r))


def _web_session(request) -> str:
    """The keyed hash of the request's session cookie ("" without one): a report counts only
    from the web session its play session was started in (policy.session_bound)."""
    return services.web_session_hash(request.COOKIES.get(settings.SESSION_COOKIE_NAME))


def beat(request, key, seq, start, position, ip=None):
    user_id, user = _who(request, key)
    ip = ip or _client_ip(request)
    web_session = _web_session(request)
    if hotpath.enabled():
        if user is not None:
            services._check_learner(user)
        return hotpath.beat(
            key=key, seq=seq, start=start, position=position, ip=ip, user_id=user_id, web_session=web_session
        )
    return services.play_heartbeat(
        user=user or services.play_session_owner(key),
        key=key,
        seq=seq,
        start=start,
        position=position,
        ip=ip,
        web_session=web_session,
    )


def beat_body(r) -> dict:
    return {
        "credited": r.credited,
        "reason": r.reason,
        "watched_seconds": r.watched_seconds,
        "watched_share": r.watched_share,
        "frontier": r.frontier,
        "duration": r.duration,
        "completed": r.completed,
        "completed_now": r.completed_now,
        "attention": (
            {"token": r.attention_token, "seconds_left": r.attention_deadline} if r.attention_token else None
        ),
    }


@router.post(
    "/sessions/{key}/attention", response={200: Ok, **ERRORS}, auth=play_auth, summary="回答防挂机确认"
)
def attention(request, key: str, payload: AnswerIn):
    user_id, user = _who(request, key)
    try:
        if hotpath.enabled():
            hotpath.attention_answer(key=key, token=payload.token, user_id=user_id)
        else:
            services.attention_answer(
                user=user or services.play_session_owner(key), key=key, token=payload.token
            )
    except LearningError as exc:
        return _fail(exc)
    return Status(200, {"ok": True})


@router.post("/sessions/{key}/end", response={200: Ok, **ERRORS}, auth=play_auth, summary="结束播放")
def end(request, key: str):
    user_id, user = _who(request, key)
    try:
        if hotpath.enabled():
            hotpath.end(key=key, user_id=user_id)
        else:
            services.play_end(user=user or services.play_session_owner(key), key=key)
    except LearningError as exc:
        return _fail(exc)
    return Status(200, {"ok": True})
