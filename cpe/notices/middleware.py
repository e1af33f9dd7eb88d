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
        if phase == "active" and policy.maintenance_blocks(is_staff=_is_staff(request), path=request.path):
            return maintenance_response(request, notice, at)
        return self.get_response(request)


def _is_staff(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


def maintenance_response(request, notice, at):
    retry = str(policy.retry_after(end=notice.maintenance_end, at=at))
    if request.path.startswith("/api/"):
        r = JsonResponse(
            {
                "code": "maintenance",
                "message": MAINTENANCE_MESSAGE,
                "until": notice.maintenance_end.isoformat(),
            },
            status=503,
        )
    else:
        r = render(request, "errors/maintenance.html", {"notice": notice}, status=503)
    r["Retry-After"] = retry
    return r
