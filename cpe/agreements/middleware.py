from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from . import selectors

EXEMPT_PREFIXES = (
    "/agreement/",
    "/accounts/logout/",
    "/static/",
    "/admin/",
    "/dev/",
    "/media/",
    "/sandbox/",
    "/orders/notify/",
)


class AgreementGateMiddleware:
    """A signed-in learner must accept the version in force before anything else (rules R2.3).

    The accepted major version is remembered in the session, so a learner who is up to date
    costs one small query per request (the id of the version in force)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.is_staff
            and not request.path.startswith(EXEMPT_PREFIXES)
        ):
            required = selectors.required_major_id(timezone.now())
            if required is not None and request.session.get("agreement_ok") != required:
                if selectors.user_has_accepted(user, required):
                    request.session["agreement_ok"] = required
                else:
                    return redirect(
                        reverse("agreements:accept") + "?" + urlencode({"next": request.get_full_path()})
                    )
        return self.get_response(request)
