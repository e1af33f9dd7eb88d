"""Auth infrastructure hooks: every sign-in path (ours and the staff admin's) records the
session as the account's current one."""
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .services import session_begin


def client_ip(request):
    return request.META.get("REMOTE_ADDR") or None


@receiver(user_logged_in)
def _on_login(sender, request, user, **kwargs):
    if request is None:
        return
    if not request.session.session_key:
        request.session.save()
    session_begin(user=user, session_key=request.session.session_key, ip=client_ip(request),
                  user_agent=request.META.get("HTTP_USER_AGENT", ""))
