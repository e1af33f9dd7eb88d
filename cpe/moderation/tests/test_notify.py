"""The sanctioned learner is told, by SMS and (verified) e-mail through the outbox: the reason,
the period and how to object (rules R12)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from cpe.accounts.states import TerminationReason
from cpe.moderation import services
from cpe.moderation.errors import ModerationError
from cpe.moderation.models import Ban
from cpe.notices.models import Channel, OutboundMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(staff_with):
    return staff_with()


def _sent(event):
    return {m.channel: m for m in OutboundMessage.objects.filter(event=event)}


def test_account_ban_is_told_by_sms_and_email_with_reason_period_and_objection(
    verified_learner, operator, django_capture_on_commit_callbacks
):
    end = timezone.now() + timedelta(days=5)
    with django_capture_on_commit_callbacks(execute=False):
        services.ban_account(user_id=verified_learner.pk, reason="多人共用账号", ends_at=end, actor=operator)
    sent = _sent("account.banned")
    assert set(sent) == {Channel.SMS, Channel.EMAIL}
    assert (
        sent[Channel.SMS].to == verified_learner.mobile and sent[Channel.EMAIL].to == verified_learner.email
    )
    until = timezone.localtime(end).strftime("%Y-%m-%d %H:%M")
    for msg in sent.values():
        assert "封禁" in msg.body and "多人共用账号" in msg.body and until in msg.body
        assert settings.SUPPORT_PHONE in msg.body and "如有异议" in msg.body
        assert msg.user_id == verified_learner.pk and msg.sent_at is None  # queued, not sent inline
    assert sent[Channel.SMS].body.startswith("【内蒙古会计继续教育】")


def test_permanent_ban_says_until_lifted_and_unverified_email_gets_nothing(register_learner, operator):
    learner = register_learner(email="lisi@example.com")  # e-mail not verified
    services.ban_account(user_id=learner.pk, reason="x" * 400, actor=operator)
    sent = _sent("account.banned")
    assert set(sent) == {Channel.SMS}
    sms = sent[Channel.SMS].body
    assert "直至平台解除" in sms and "x" * 400 not in sms and "…" in sms  # a long reason is cut in the SMS


def test_refused_ban_sends_nothing(register_learner, operator):
    learner = register_learner()
    before = OutboundMessage.objects.count()
    with pytest.raises(ModerationError):
        services.ban_account(user_id=learner.pk, reason=" ", actor=operator)
    assert OutboundMessage.objects.count() == before and not Ban.objects.exists()


def test_network_ban_notifies_no_one(operator):
    before = OutboundMessage.objects.count()
    services.ban_network(network="203.0.113.0/24", reason="x", actor=operator)
    assert OutboundMessage.objects.count() == before


def test_termination_is_told_by_sms_and_email_with_reason_and_objection(verified_learner, operator):
    services.learner_terminate(
        user_id=verified_learner.pk, reason=TerminationReason.OTHER, note="冒用他人身份", actor=operator
    )
    sent = _sent("account.terminated")
    assert set(sent) == {Channel.SMS, Channel.EMAIL}
    for msg in sent.values():
        assert "终止服务" in msg.body and "其他：冒用他人身份" in msg.body
        assert settings.SUPPORT_PHONE in msg.body and "如有异议" in msg.body


def test_termination_on_a_seed_ground_keeps_the_staff_note_internal(verified_learner, operator):
    services.learner_terminate(
        user_id=verified_learner.pk, reason=TerminationReason.VIOLATION, note="内部工单 #123", actor=operator
    )
    for msg in _sent("account.terminated").values():
        assert "违反用户协议" in msg.body and "内部工单" not in msg.body
