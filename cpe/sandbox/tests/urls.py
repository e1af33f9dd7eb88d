"""URLconf for the sandbox tests: the sandbox plus a minimal notify endpoint that does what the
platform's real one does with the adapter (parse, answer) and nothing else."""

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from cpe.orders.gateways import get_gateway
from cpe.orders.gateways.base import NotificationRejected

received = []


@csrf_exempt
def notify(request, name):
    adapter = get_gateway(name)
    try:
        received.append(adapter.parse_notification(dict(request.headers), request.body))
        ok = True
    except NotificationRejected as exc:
        received.append(exc.code)
        ok = False
    answer = adapter.notification_answer(ok)
    return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)


urlpatterns = [
    path("sandbox/", include("cpe.sandbox.urls")),
    path("test-notify/<str:name>/", notify),
]
