"""Services and the staff pages of rules R12, on a real database."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cpe.accounts.models import User
from cpe.accounts.states import AccountStatus, TerminationReason
from cpe.core.models import AuditEvent
from cpe.moderation import selectors, services
from cpe.moderation.errors import ModerationError
from cpe.moderation.models import Ban
from cpe.moderation.states import BanKind
from cpe.notices.models import OutboundMessage

pytestmark = pytest.mark.django_db

OPERATOR_PERMS = (
    "moderation.view_learneraccount",
    "moderation.terminate_learneraccount",
    "moderation.ban_learneraccount",
    "moderation.view_ban",
    "moderation.add_ban",
    "moderation.change_ban",
)
CHANGELIST = "admin:moderation_learneraccount_changelist"


def _terminate_post(client, user, reason, note=""):
    return client.post(
        reverse(CHANGELIST),
        {"action": "terminate", "_selected_action": [user.pk], "apply": "1", "reason": reason, "note": note},
    )


@pytest.mark.parametrize("reason", TerminationReason.values)
def test_operator_terminates_through_the_staff_page_with_each_reason(
    client, register_learner, staff_with, reason
):
    learner = register_learner()
    operator = staff_with(*OPERATOR_PERMS)
    client.force_login(operator)
    note = "冒用他人身份" if reason == TerminationReason.OTHER else ""
    r = _terminate_post(client, learner, reason, note)
    assert r.status_code == 302
    learner.refresh_from_db()
    assert (learner.status, learner.status_reason, learner.status_note, learner.is_active) == (
        AccountStatus.TERMINATED,
        reason,
        note,
        False,
    )
    event = AuditEvent.objects.get(event_type="account.terminated", subject_id=str(learner.pk))
    assert event.actor_id == operator.pk and event.data["reason"] == reason
    sms = OutboundMessage.objects.get(event="account.terminated")
    assert sms.to == learner.mobile and TerminationReason(reason).label in sms.body


def test_other_without_a_note_is_refused_and_nothing_changes(client, register_learner, staff_with):
    learner = register_learner()
    client.force_login(staff_with(*OPERATOR_PERMS))
    events, messages = AuditEvent.objects.count(), OutboundMessage.objects.count()
    r = _terminate_post(client, learner, TerminationReason.OTHER, "  ")
    assert r.status_code == 200
    assert "原因为“其他”时，请填写具体说明。" in r.content.decode()
    learner.refresh_from_db()
    assert (learner.status, learner.status_reason, learner.is_active) == (AccountStatus.ACTIVE, "", True)
    assert (AuditEvent.objects.count(), OutboundMessage.objects.count()) == (events, messages)


def test_service_refuses_other_without_note_and_staff_accounts(register_learner, staff_with):
    learner = register_learner()
    operator = staff_with(*OPERATOR_PERMS)
    with pytest.raises(ModerationError) as exc:
        services.learner_terminate(
            user_id=learner.pk, reason=TerminationReason.OTHER, note="", actor=operator
        )
    assert exc.value.field == "note"
    with pytest.raises(ModerationError) as exc:
        services.learner_terminate(user_id=operator.pk, reason=TerminationReason.VIOLATION, actor=operator)
    assert exc.value.code == "not_learner"
    assert User.objects.filter(status=AccountStatus.TERMINATED).count() == 0


def test_terminate_needs_the_permission(client, register_learner, staff_with):
    learner = register_learner()
    client.force_login(staff_with("moderation.view_learneraccount", username="auditor1"))
    r = client.get(reverse(CHANGELIST))
    assert r.status_code == 200 and learner.name in r.content.decode()
    assert "终止服务（选择原因）" not in r.content.decode()  # the action is not offered
    _terminate_post(client, learner, TerminationReason.VIOLATION)
    learner.refresh_from_db()
    assert learner.status == AccountStatus.ACTIVE


def test_learner_list_shows_name_and_masked_id_only(client, register_learner, staff_with):
    learner = register_learner(name="赵六")
    other = register_learner(name="王五")
    client.force_login(staff_with(*OPERATOR_PERMS))
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "operator1" not in page.split("<tbody>")[1]  # staff are not listed
    for u in (learner, other):
        assert u.name in page and u.id_number_masked in page
        assert u.id_number not in page and u.mobile not in page and u.email not in page
    page = client.get(reverse(CHANGELIST), {"q": "赵六"}).content.decode()
    assert learner.id_number_masked in page and other.id_number_masked not in page


def test_ban_account_and_lift(register_learner, staff_with):
    learner = register_learner()
    operator = staff_with(*OPERATOR_PERMS)
    now = timezone.now()
    ban = services.ban_account(user_id=learner.pk, reason="多人共用账号", actor=operator, at=now)
    assert selectors.account_ban_for(learner.pk, now) is not None  # the memo was refreshed by the save
    assert AuditEvent.objects.filter(event_type="moderation.banned", subject_id=str(learner.pk)).exists()
    services.ban_lift(ban_id=ban.pk, actor=operator, note="误封", at=now + timedelta(minutes=1))
    assert selectors.account_ban_for(learner.pk, now + timedelta(minutes=2)) is None
    ban.refresh_from_db()
    assert (ban.lifted_by_id, ban.lift_note) == (operator.pk, "误封")
    with pytest.raises(ModerationError) as exc:
        services.ban_lift(ban_id=ban.pk, actor=operator)
    assert exc.value.code == "not_active"


def test_ban_expires_at_its_end(register_learner, staff_with):
    learner = register_learner()
    now = timezone.now()
    end = now + timedelta(days=7)
    services.ban_account(user_id=learner.pk, reason="刷课", ends_at=end, actor=staff_with(), at=now)
    assert selectors.account_ban_for(learner.pk, end - timedelta(seconds=1)) is not None
    assert selectors.account_ban_for(learner.pk, end) is None


def test_ban_network_v4_and_v6(staff_with):
    operator = staff_with()
    now = timezone.now()
    services.ban_network(network="203.0.113.0/24", reason="撞库攻击", actor=operator, at=now)
    services.ban_network(network="2001:db8:1::/48", reason="撞库攻击", actor=operator, at=now)
    assert selectors.ip_banned("203.0.113.77", now).reason == "撞库攻击"
    assert selectors.ip_banned("2001:db8:1:2::3", now) is not None
    assert selectors.ip_banned("203.0.114.1", now) is None
    assert selectors.ip_banned("2001:db8:2::1", now) is None


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"network": "203.0.113.7/24", "reason": "x"}, "network"),
        ({"network": "0.0.0.0/0", "reason": "x"}, "network"),
        ({"network": "203.0.113.7", "reason": ""}, "reason"),
        ({"network": "203.0.113.7", "reason": "x", "ends_at": timezone.now() - timedelta(days=1)}, "ends_at"),
    ],
)
def test_bad_ban_is_refused_and_nothing_changes(staff_with, kwargs, field):
    events = AuditEvent.objects.count()
    with pytest.raises(ModerationError) as exc:
        services.ban_network(actor=staff_with(), **kwargs)
    assert exc.value.field == field
    assert (Ban.objects.count(), AuditEvent.objects.count()) == (0, events)


def test_staff_account_cannot_be_banned(staff_with):
    operator = staff_with()
    with pytest.raises(ModerationError):
        services.ban_account(user_id=operator.pk, reason="x", actor=operator)
    assert not Ban.objects.exists()


def test_operator_adds_an_ip_ban_and_lifts_it_in_the_staff_site(client, staff_with):
    operator = staff_with(*OPERATOR_PERMS)
    client.force_login(operator)
    r = client.post(
        reverse("admin:moderation_ban_add"),
        {"network": "198.51.100.0/24", "reason": "恶意注册", "ends_at": ""},
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    ban = Ban.objects.get()
    assert (ban.kind, ban.network, ban.created_by_id) == (BanKind.NETWORK, "198.51.100.0/24", operator.pk)
    assert AuditEvent.objects.filter(event_type="moderation.banned").count() == 1
    r = client.post(reverse("admin:moderation_ban_add"), {"network": "198.51.100.9/24", "reason": "x"})
    assert r.status_code == 200 and "请写成 198.51.100.0/24" in r.content.decode()
    assert Ban.objects.count() == 1
    r = client.post(
        reverse("admin:moderation_ban_changelist"), {"action": "lift", "_selected_action": [ban.pk]}
    )
    assert r.status_code == 302
    ban.refresh_from_db()
    assert ban.lifted_at is not None and ban.lifted_by_id == operator.pk


def test_operator_bans_an_account_in_the_staff_site(client, register_learner, staff_with):
    learner = register_learner()
    client.force_login(staff_with(*OPERATOR_PERMS))
    r = client.post(
        reverse(CHANGELIST),
        {
            "action": "ban",
            "_selected_action": [learner.pk],
            "apply": "1",
            "reason": "多人共用账号",
            "ends_at": "",
        },
    )
    assert r.status_code == 302
    assert Ban.objects.get().user_id == learner.pk
