"""Django's sign-in and sign-out signals, which every path fires (our pages, the staff admin,
the ban middleware and the single-session middleware signing a browser out): the account's play
tokens are revoked, as a sanction revokes them (services.play_sessions_revoke)."""

import logging

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

log = logging.getLogger(__name__)


@receiver(user_logged_in)
@receiver(user_logged_out)
def _signed_in_or_out(sender, request=None, user=None, **kwargs):
    """A new sign-in ends the account's other web sessions (rules R1.7) and signing out ends this
    one: every player of the account stops for good (its play session is revoked: a new page
    starts a new one), on both doors, and the hot path's current-stream marker says so too."""
    from . import hotpath, services

    if user is None or user.is_staff:
        return
    services.play_sessions_revoke(user_id=user.pk, reason="session_elsewhere")
    if hotpath.enabled():
        try:
            hotpath.account_signed_out(user.pk)
        except Exception:  # Redis down must not block signing in: the rows are revoked
            log.exception("could not stop the players of user %s", user.pk)
