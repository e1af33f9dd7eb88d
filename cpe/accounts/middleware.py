from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse


class SingleSessionMiddleware:
    """One active session per account (SPEC §1.7): a session that is no longer the
    account's current one is signed out, and the page says why."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            current = user.session_key
            if not user.is_active or (current and request.session.session_key != current):
                reason = "elsewhere" if user.is_active else "closed"
                logout(request)
                if request.path.startswith("/api/") or getattr(request, "htmx", False):
                    return JsonResponse({"code": f"session_{reason}"}, status=401)
                return redirect(reverse("accounts:login") + f"?ended={reason}")
        return self.get_response(request)
