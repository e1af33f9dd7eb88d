"""Sign-in by ID number or mobile (learners) or username (staff) — rules R1.6."""

import hashlib
import re

from django.contrib.auth.backends import ModelBackend

from cpe.core import crypto

from . import policy, user_rows
from .models import User


def user_for_identifier(identifier: str):
    value = (identifier or "").strip()
    if not value:
        return None
    normalised = policy.normalise_id_number(value)
    if re.fullmatch(r"\d{17}[\dX]", normalised):
        return User.objects.filter(id_number_bidx=crypto.blind_index("id_number", normalised)).first()
    mobile, _ = policy.check_mobile(value)
    if mobile:
        return User.objects.filter(mobile_bidx=crypto.blind_index("mobile", mobile)).first()
    return User.objects.filter(username=value, is_staff=True).first()


def axes_username(request, credentials) -> str:
    """What django-axes counts failures against: the account, whichever identifier was
    typed (ID number or mobile), and never the clear identifier itself (axes stores it)."""
    identifier = (credentials or {}).get("username", "") or ""
    user = user_for_identifier(identifier)
    if user is not None:
        return f"user:{user.pk}"
    return "unknown:" + hashlib.sha256(identifier.strip().upper().encode()).hexdigest()[:24]


class IdentifierBackend(ModelBackend):
    def get_user(self, user_id):
        """The signed-in user of every request: the row cached in Redis next to the session copy,
        else one read by primary key, its SQL built once per process (cpe.accounts.user_rows).
        The same checks as Django's: an inactive account is nobody."""
        user = user_rows.get(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = user_for_identifier(username)
        if user is None:
            User().set_password(password or "")  # same cost whether or not the account exists
            return None
        if user.check_password(password or "") and self.user_can_authenticate(user):
            return user
        return None
