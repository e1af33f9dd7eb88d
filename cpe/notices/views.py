from django.conf import settings
from django.http import Http404
from django.shortcuts import render

from .models import OutboundMessage


def dev_outbox(request):
    """Developer page: the SMS and e-mails the embedded default "sent". DEBUG only."""
    if not settings.DEBUG:
        raise Http404
    messages = OutboundMessage.objects.all()[:100]
    return render(request, "notices/dev_outbox.html", {"outbox": messages})
