"""The staff site's ban forms with an end time, as a browser's datetime-local box sends it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cpe.moderation.models import Ban

from .test_services import CHANGELIST, OPERATOR_PERMS

pytestmark = pytest.mark.django_db


def _local_box(dt):
    """What <input type="datetime-local"> posts: Beijing wall time to the minute, with a "T"."""
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def test_ip_ban_with_an_end_time_is_saved_with_that_end(client, staff_with):
    client.force_login(staff_with(*OPERATOR_PERMS))
    end = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    r = client.post(
        reverse("admin:moderation_ban_add"),
        {"network": "198.51.100.0/24", "reason": "恶意注册", "ends_at": _local_box(end)},
    )
    page = r.content.decode()
    assert "输入一系列值" not in page
    assert r.status_code == 302, page[:2000]
    assert Ban.objects.get().ends_at == end


def test_ip_ban_form_shows_a_single_datetime_box(client, staff_with):
    client.force_login(staff_with(*OPERATOR_PERMS))
    page = client.get(reverse("admin:moderation_ban_add")).content.decode()
    assert 'type="datetime-local"' in page and 'name="ends_at"' in page
    assert 'name="ends_at_0"' not in page  # not the split date + time boxes


def test_ip_ban_with_a_past_end_time_is_refused_and_nothing_is_saved(client, staff_with):
    client.force_login(staff_with(*OPERATOR_PERMS))
    r = client.post(
        reverse("admin:moderation_ban_add"),
        {
            "network": "198.51.100.0/24",
            "reason": "恶意注册",
            "ends_at": _local_box(timezone.now() - timedelta(hours=1)),
        },
    )
    assert r.status_code == 200 and "结束时间须晚于当前时间" in r.content.decode()
    assert not Ban.objects.exists()


def test_account_ban_with_an_end_time_is_saved_with_that_end(client, register_learner, staff_with):
    learner = register_learner()
    client.force_login(staff_with(*OPERATOR_PERMS))
    end = (timezone.now() + timedelta(days=7)).replace(second=0, microsecond=0)
    r = client.post(
        reverse(CHANGELIST),
        {
            "action": "ban",
            "_selected_action": [learner.pk],
            "apply": "1",
            "reason": "多人共用账号",
            "ends_at": _local_box(end),
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    ban = Ban.objects.get()
    assert (ban.user_id, ban.ends_at) == (learner.pk, end)


def test_account_ban_with_a_garbled_end_time_is_refused(client, register_learner, staff_with):
    learner = register_learner()
    client.force_login(staff_with(*OPERATOR_PERMS))
    r = client.post(
        reverse(CHANGELIST),
        {
            "action": "ban",
            "_selected_action": [learner.pk],
            "apply": "1",
            "reason": "多人共用账号",
            "ends_at": "明天",
        },
    )
    assert r.status_code == 200
    assert not Ban.objects.exists()
