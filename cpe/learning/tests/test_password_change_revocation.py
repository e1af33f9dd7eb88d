"""修改密码 revokes every play token of the account (accounts.services.password_change): a
player left open elsewhere earns nothing after the password changed. A wrong current password
revokes nothing."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cpe.learning import services
from cpe.learning.models import PlaySession

pytestmark = pytest.mark.django_db
PASSWORD = "Zhang-san-2026"


def _change(client, current):
    return client.post(
        reverse("accounts:password_change"),
        {"current_password": current, "new_password": "Li-si-new-2027", "new_password2": "Li-si-new-2027"},
    )


def test_password_change_revokes_the_accounts_play_tokens(signed_in, learner, chapter, enrolment):
    s = services.play_start(
        user=learner,
        chapter_id=chapter.pk,
        web_session=signed_in.session.session_key,
        ip="10.0.0.1",
        at=timezone.now() - timedelta(seconds=40),
        rand=lambda: 0.5,
    )
    assert _change(signed_in, "Not-my-pass-1").status_code == 400
    assert PlaySession.objects.get(pk=s.pk).revoked_at is None  # refused: nothing revoked
    assert _change(signed_in, PASSWORD).status_code == 302
    row = PlaySession.objects.get(pk=s.pk)
    assert row.revoked_at is not None and row.revoked_reason == "session_elsewhere"
