import hmac

from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import SimpleLazyObject, empty
from django_otp.middleware import OTPMiddleware as _OTPMiddleware

from cpe.core import crypto

from . import sessions


class SingleSessionMiddleware:
    """One active session per account (rules R1.7): a session that is no longer the
    account's current one is signed out, and the page says why. The account keeps only the
    keyed hash of its current session key (``User.session_key_hash``); an account with none
    (signed out) has no current session, so no session of it is accepted. That also refuses a
    copy of a signed-out session the session cache may still hold after an outage (decision
    0018): the user row, read on every request, decides."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            current = user.session_key_hash
            if not user.is_active or not _is_current(request.session.session_key, current):
                reason = "closed" if not user.is_active else ("elsewhere" if current else "signed_out")
                logout(request)
                if request.path.startswith("/api/") or getattr(request, "htmx", False):
                    return JsonResponse({"code": f"session_{reason}"}, status=401)
                return redirect(reverse("accounts:login") + f"?ended={reason}")
        return self.get_response(request)


def _is_current(session_key, current_hash: str) -> bool:
    if not session_key or not current_hash:
        return False
    return hmac.compare_digest(crypto.blind_index("session_key", session_key), current_hash)


class StaffSecondFactorMiddleware:
    """A staff session that has not proven its second factor (django-otp's ``is_verified``) may
    open only the second-factor pages and sign out: every other page, the admin and the API
    included, sends it to verification (to enrolment when it has no confirmed factor yet).
    Learners and visitors pass untouched (``policy.second_factor_required``). Runs after
    ``django_otp.middleware.OTPMiddleware``."""

    ALLOWED = ("accounts:second_factor", "accounts:second_factor_setup", "accounts:logout", "admin:logout")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from . import policy

        user = getattr(request, "user", None)
        if user is not None and policy.second_factor_required(
            is_authenticated=user.is_authenticated,
            is_staff=user.is_staff,
            verified=user.is_authenticated and user.is_verified(),
        ):
            allowed = {reverse(name) for name in self.ALLOWED}
            if request.path not in allowed:
                return _to_second_factor(request, user)
        return self.get_response(request)


def _to_second_factor(request, user):
    from urllib.parse import urlencode

    from .models import StaffSecondFactor

    if request.path.startswith("/api/") or getattr(request, "htmx", False):
        return JsonResponse({"code": "second_factor_required", "message": "请先完成两步验证。"}, status=401)
    enrolled = StaffSecondFactor.objects.filter(user=user, confirmed=True).exists()
    target = reverse("accounts:second_factor" if enrolled else "accounts:second_factor_setup")
    if request.method == "GET":
        target += "?" + urlencode({"next": request.get_full_path()})
    return redirect(target)


class OTPMiddleware(_OTPMiddleware):
    """django-otp's middleware (``request.user.is_verified()``, ``otp_device``), with
    ``request.user`` one lazy object over the user instead of a lazy object over Django's lazy
    object (every attribute a request reads of its user went through both proxies), replaced by
    the user itself once first read.

    For the rest of the request it also asks the session read to bring the cached row of the
    session's user along (``sessions.WANT_USER_ROW``: one round trip for both,
    cpe.accounts.user_rows). The session is first read right after this middleware (BanMiddleware,
    then the lazy user), so the user read that follows needs no round trip of its own."""

    def __call__(self, request):
        if self._is_async:
            return super().__call__(request)
        token = sessions.WANT_USER_ROW.set(sessions.UserRowLook())
        try:
            return super().__call__(request)
        finally:
            sessions.WANT_USER_ROW.reset(token)

    def _verify_user_sync(self, request, lazy_user):
        user = super()._verify_user_sync(request, lazy_user)
        if isinstance(user, SimpleLazyObject):
            if user._wrapped is empty:
                user._setup()
            user = user._wrapped
        # Known now (its first read, BanMiddleware's on most requests): the rest of the request
        # (the other middleware, the view, the templates' dozens of reads) gets the user itself
        # instead of going through the lazy object on every attribute. Only while request.user
        # is still the lazy object this middleware set: after login() or logout() replaced it, a
        # late read of the old one (held by some code from before) must not put it back.
        current = request.__dict__.get("user")
        setup = current.__dict__.get("_setupfunc") if isinstance(current, SimpleLazyObject) else None
        args = getattr(setup, "args", ())
        if len(args) == 2 and args[0] is request and args[1] is lazy_user:
            request.user = user
        return user
