from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from . import selectors
from .models import OutboundMessage
from .selectors import announcements_for


def dev_outbox(request):
    """Developer page: the SMS and e-mails the embedded default "sent". DEBUG only."""
    if not settings.DEBUG:
        raise Http404
    messages = OutboundMessage.objects.all()[:100]
    return render(request, "notices/dev_outbox.html", {"outbox": messages})


def announcement_list(request):
    """通知公告 (rules R2.4): public ones for everyone, plus a learner's region and years."""
    return render(
        request,
        "notices/announcements.html",
        {
            "announcements": announcements_for(
                request.user, timezone.now(), bought_year_ids=selectors.bought_year_ids_reader()
            )
        },
    )


def announcement_detail(request, pk: int):
    found = [
        a
        for a in announcements_for(
            request.user, timezone.now(), bought_year_ids=selectors.bought_year_ids_reader()
        )
        if a.pk == pk
    ]
    if not found:
        raise Http404
    return render(request, "notices/announcement.html", {"a": found[0]})
