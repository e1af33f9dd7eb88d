"""Auth infrastructure hooks: every sign-in path (ours and the staff admin's) records the
session as the account's current one."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from cpe.core import crypto, net

from . import hooks, user_rows
from .models import User
from .services import session_begin


def client_ip(request):
    return net.client_ip(request.META)


@receiver(user_logged_in)
def _on_login(sender, request, user, **kwargs):
    if request is None:
        return
    # moderation.services.ban_login_refuse, registered by ModerationConfig.ready().
    if hooks.login_refused(
        user=user, ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")
    ):
        return  # a banned account: a refused sign-in, not a session (BanMiddleware ends it)
    if not request.session.session_key:
        request.session.save()
    session_begin(
        user=user,
        session_key=request.session.session_key,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


@receiver(user_logged_out)
def _on_logout(sender, request, user, **kwargs):
    """Signing out ends the account's current session: the next sign-in ends nothing."""
    if user is not None and request is not None and request.session.session_key:
        User.objects.filter(
            pk=user.pk, session_key_hash=crypto.blind_index("session_key", request.session.session_key)
        ).update(session_key_hash="")


@receiver(post_save, sender=User)
@receiver(post_delete, sender=User)
def _user_row_written(sender, instance, using, **kwargs):
    """A user row saved or deleted: forgotten by the user row cache (cpe.accounts.user_rows)."""
    user_rows.forget([instance.pk], using=using)
