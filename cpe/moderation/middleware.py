from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject, empty

from cpe.accounts.models import User
from cpe.accounts.states import AccountStatus
from cpe.core.net import client_ip

from . import policy, selectors
from .states import BanKind

BANNED_MESSAGE = {
    BanKind.NETWORK: "您所在的网络地址已被平台限制访问。",
    BanKind.ACCOUNT: "您的账号已被平台封禁，当前登录已退出。",
}


TERMINATED_MESSAGE = "您的账号已被平台终止服务，当前登录已退出。"


class BanMiddleware:
    """rules R12: a banned IP address/range or account gets a clear 403 page (JSON under /api/);
    policy.BAN_OPEN_PATHS stay open. Cheap on every request: the bans come from a per-process
    memo (selectors, re-read every BAN_MEMO_SECONDS); with no ban in force nothing else happens,
    and the session and user are loaded only while an account ban is in force and the request
    carries a session cookie. A banned account's session is ended at its next request.

    Place it right after AuthenticationMiddleware (it needs request.user, and must answer before
    the maintenance page, the single-session redirect and the agreement gate)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        ended = terminated_session_response(request)
        if ended is not None:
            return ended
        if not selectors.any_bans():
            return self.get_response(request)
        if policy.ban_path_open(request.path_info, request.method):
            return self._open_path(request)
        at = timezone.now()
        ban = network_ban(request.META, request.path_info, request.method, at)
        if ban is not None:
            return banned_response(request, ban)
        accounts_banned = selectors.account_bans_exist(at)
        if accounts_banned and settings.SESSION_COOKIE_NAME in request.COOKIES:
            ban = self._account_ban(request, at)
            if ban is not None:
                return banned_response(request, ban)
        response = self.get_response(request)
        if accounts_banned and _user_loaded(request):  # a banned account that signed in during this request
            ban = self._account_ban(request, at)
            if ban is not None:
                return banned_response(request, ban)
        return response

    def _open_path(self, request):
        """A page open to banned visitors: a banned *account's* still-open session is ended here
        too, with the ban page, so that whatever page it opens next tells it why (once; then the
        anonymous visitor may read the open pages like anyone)."""
        at = timezone.now()
        if selectors.account_bans_exist(at) and settings.SESSION_COOKIE_NAME in request.COOKIES:
            ban = self._account_ban(request, at)
            if ban is not None:
                return banned_response(request, ban)
        return self.get_response(request)

    @staticmethod
    def _account_ban(request, at):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_staff:
            return None
        ban = selectors.account_ban_for(user.pk, at)
        if ban is not None:
            logout(request)
        return ban


def network_ban(environ, path: str, method: str, at):
    """The network ban refusing this request (rules R12), or None: the one check of the client's
    address, made by BanMiddleware and by the heartbeat's door (config/hotpath_wsgi.py), which
    answers before the middleware. `environ`: the WSGI environ (request.META), for
    cpe.core.net.client_ip. Costs a memo look-up while no ban is in force."""
    if not selectors.any_bans() or policy.ban_path_open(path, method):
        return None
    return selectors.ip_banned(client_ip(environ), at)


def ban_api_body(ban) -> dict:
    """The JSON a request under /api/ gets for a ban (403), from either door."""
    return {
        "code": f"banned_{ban.kind}",
        "message": BANNED_MESSAGE[ban.kind],
        "reason": ban.reason,
        "until": ban.ends_at.isoformat() if ban.ends_at else None,
    }


def _user_loaded(request) -> bool:
    """Whether request.user is already known (login() replaces it; a page may have evaluated it):
    asking then costs nothing, and an unevaluated lazy user is left alone."""
    user = request.__dict__.get("user")
    return user is not None and not (isinstance(user, SimpleLazyObject) and user._wrapped is empty)


def terminated_session_response(request):
    """A session still signed in to an account the platform has since terminated (rules R12): the
    auth backend no longer loads an inactive user, so without this the learner would meet a bare
    login page. Instead its next request ends the session and shows why, once. Costs nothing
    without a session cookie; with one, the session and user are what SingleSessionMiddleware
    loads anyway, and the extra query runs only for a session whose user did not load."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return None
    uid = request.session.get(SESSION_KEY)
    if uid is None or request.user.is_authenticated:
        return None

    user = (
        User.objects.filter(pk=uid, status=AccountStatus.TERMINATED)
        .only("status", "status_reason", "status_note", "status_changed_at")
        .first()
    )
    if user is None:
        return None
    logout(request)
    reason = policy.termination_reason_text(reason=user.status_reason, note=user.status_note)
    if request.path_info.startswith("/api/"):
        r = JsonResponse(
            {"code": "account_terminated", "message": TERMINATED_MESSAGE, "reason": reason}, status=401
        )
    else:
        r = render(
            request,
            "errors/terminated.html",
            {"message": TERMINATED_MESSAGE, "reason": reason, "at": user.status_changed_at},
            status=403,
        )
        if request.headers.get("HX-Request"):
            r["HX-Refresh"] = "true"
    r["Cache-Control"] = "no-store"
    return r


def banned_response(request, ban):
    message = BANNED_MESSAGE[ban.kind]
    if request.path_info.startswith("/api/"):
        r = JsonResponse(ban_api_body(ban), status=403)
    else:
        r = render(
            request,
            "errors/banned.html",
            {"ban": ban, "message": message, "is_account": ban.kind == BanKind.ACCOUNT},
            status=403,
        )
        if request.headers.get("HX-Request"):
            r["HX-Refresh"] = "true"  # htmx does not swap a 403: reload the whole page to show this one
    r["Cache-Control"] = "no-store"
    return r
