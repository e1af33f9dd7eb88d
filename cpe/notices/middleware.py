from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone

from . import policy, selectors

MAINTENANCE_MESSAGE = "平台正在进行系统维护，请稍后再试。"


class MaintenanceMiddleware:
    """rules R2.4: during a maintenance window learners get a friendly 503 page; staff can still
    work. Before it, the page shows a banner (context processor `maintenance`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        at = timezone.now()
        phase, notice = selectors.maintenance_now(at)
        request.maintenance = (phase, notice)
        if maintenance_refuses(phase, request.path, is_staff=lambda: _is_staff(request)):
            return maintenance_response(request, notice, at)
        return self.get_response(request)


def maintenance_refuses(phase: str, path: str, *, is_staff) -> bool:
    """Whether this request gets the maintenance 503 (rules R2.4): the one check, made by
    MaintenanceMiddleware and by the heartbeat's door (config/hotpath_wsgi.py), which answers
    before the middleware. `phase`: selectors.maintenance_now's; `is_staff`: a callable, asked
    only during a window (it may load the user)."""
    return phase == "active" and policy.maintenance_blocks(is_staff=is_staff(), path=path)


def maintenance_api_answer(notice, at) -> tuple[dict, str]:
    """(the JSON body, the Retry-After value) of the 503 a request under /api/ gets, from
    either door."""
    body = {
        "code": "maintenance",
        "message": MAINTENANCE_MESSAGE,
        "until": notice.maintenance_end.isoformat(),
    }
    return body, str(policy.retry_after(end=notice.maintenance_end, at=at))


def _is_staff(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


def maintenance_response(request, notice, at):
    body, retry = maintenance_api_answer(notice, at)
    if request.path.startswith("/api/"):
        r = JsonResponse(body, status=503)
    else:
        r = render(request, "errors/maintenance.html", {"notice": notice}, status=503)
    r["Retry-After"] = retry
    return r
