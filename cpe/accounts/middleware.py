import hmac

from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from cpe.core import crypto


class SingleSessionMiddleware:
    """One active session per account (rules R1.7): a session that is no longer the
    account's current one is signed out, and the page says why. The account keeps only the
    keyed hash of its current session key (``User.session_key_hash``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            current = user.session_key_hash
            if not user.is_active or (current and not _is_current(request.session.session_key, current)):
                reason = "elsewhere" if user.is_active else "closed"
                logout(request)
                if request.path.startswith("/api/") or getattr(request, "htmx", False):
                    return JsonResponse({"code": f"session_{reason}"}, status=401)
                return redirect(reverse("accounts:login") + f"?ended={reason}")
        return self.get_response(request)


def _is_current(session_key, current_hash: str) -> bool:
    if not session_key:
        return False
    return hmac.compare_digest(crypto.blind_index("session_key", session_key), current_hash)
