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


def announcement_list(request):
    """通知公告 (rules R2.4): public ones for everyone, plus a learner's region and years."""
    from django.utils import timezone

    from .selectors import announcements_for

    return render(request, "notices/announcements.html",
                  {"announcements": announcements_for(request.user, timezone.now())})


def announcement_detail(request, pk: int):
    from django.utils import timezone

    from .selectors import announcements_for

    found = [a for a in announcements_for(request.user, timezone.now()) if a.pk == pk]
    if not found:
        raise Http404
    return render(request, "notices/announcement.html", {"a": found[0]})
