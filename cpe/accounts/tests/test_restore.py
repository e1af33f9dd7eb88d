"""Coming back after a termination for unreachable contact details (agreement §3.2(2)): the password
proves the account at sign-in, an SMS code proves a reachable mobile, and the service resumes."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpe.accounts import policy, services
from cpe.accounts.errors import AccountError
from cpe.accounts.models import User
from cpe.accounts.states import AccountStatus, TerminationReason
from cpe.accounts.tests.factories import last_code
from cpe.core.models import AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "Zhang-san-2026"
EARLIER = timezone.now() - timedelta(hours=2)


def _terminated(register_learner, reason):
    user = register_learner(at=EARLIER)
    services.account_terminate(user=user, reason=reason, note="短信和邮件均无法送达")
    user.refresh_from_db()
    return user


def _sign_in(client, user, password=PASSWORD):
    return client.post(reverse("accounts:login"), {"username": user.id_number, "password": password})


def test_unreachable_learner_restores_the_service_with_a_new_phone(client, register_learner):
    user = _terminated(register_learner, TerminationReason.UNREACHABLE)
    old_mobile = user.mobile
    r = _sign_in(client, user)
    assert r.status_code == 302 and r.url == reverse("accounts:restore")
    page = client.get(reverse("accounts:restore")).content.decode()
    assert "联系方式失效" in page and "验证" in page
    new_mobile = "13600000051"
    r = client.post(reverse("accounts:restore"), {"mobile": new_mobile, "action": "send"})
    assert "验证码已发送至 136****0051" in r.content.decode()
    assert User.objects.get(pk=user.pk).status == AccountStatus.TERMINATED  # a code alone restores nothing
    r = client.post(
        reverse("accounts:restore"),
        {"mobile": new_mobile, "sms_code": last_code(new_mobile), "action": "confirm"},
    )
    assert r.status_code == 302 and r.url == reverse("accounts:login")
    user.refresh_from_db()
    assert (user.status, user.status_reason, user.is_active, user.mobile) == (
        AccountStatus.ACTIVE,
        "",
        True,
        new_mobile,
    )
    ev = AuditEvent.objects.get(event_type="account.restored")
    assert ev.data["reason"] == TerminationReason.UNREACHABLE and old_mobile not in str(ev.data)
    assert _sign_in(Client(), user).url == reverse("accounts:dashboard")


@pytest.mark.parametrize(
    "reason", [r for r in TerminationReason.values if r != TerminationReason.UNREACHABLE]
)
def test_other_terminations_cannot_restore_themselves(client, register_learner, reason):
    user = _terminated(register_learner, reason)
    r = _sign_in(client, user)
    assert r.status_code == 400 and "已终止服务" in r.content.decode()
    assert client.get(reverse("accounts:restore")).url == reverse("accounts:login")
    with pytest.raises(AccountError):
        services.account_restore_code_send(user_id=user.pk, mobile_raw="13600000052")
    assert User.objects.get(pk=user.pk).status == AccountStatus.TERMINATED


def test_restore_needs_the_password_and_a_fresh_sign_in(client, register_learner):
    user = _terminated(register_learner, TerminationReason.UNREACHABLE)
    # A wrong password opens nothing (and says nothing about the state).
    r = _sign_in(client, user, password="Wrong-pass-2026")
    assert r.status_code == 400 and "联系方式失效" not in r.content.decode()
    assert client.get(reverse("accounts:restore")).url == reverse("accounts:login")
    # The proof of the password lasts RESTORE_WINDOW.
    _sign_in(client, user)
    session = client.session
    session["accounts.restore"]["at"] = (timezone.now() - policy.RESTORE_WINDOW).isoformat()
    session.save()
    assert client.get(reverse("accounts:restore")).url == reverse("accounts:login")


def test_restore_refused_with_a_wrong_code_or_a_taken_mobile_changes_nothing(register_learner):
    user = _terminated(register_learner, TerminationReason.UNREACHABLE)
    other = register_learner(at=EARLIER)
    services.account_restore_code_send(user_id=user.pk, mobile_raw="13600000053")
    with pytest.raises(AccountError):
        services.account_restore(
            user_id=user.pk,
            mobile_raw="13600000053",
            code="000000" if last_code("13600000053") != "000000" else "111111",
        )
    services.account_restore_code_send(user_id=user.pk, mobile_raw=other.mobile)
    with pytest.raises(AccountError) as exc:  # the code proved this phone: its holder may know
        services.account_restore(user_id=user.pk, mobile_raw=other.mobile, code=last_code(other.mobile))
    assert exc.value.code == "mobile_taken"
    user.refresh_from_db()
    assert user.status == AccountStatus.TERMINATED and not user.is_active
    assert not AuditEvent.objects.filter(event_type="account.restored").exists()


def test_the_termination_sms_says_how_to_come_back_only_when_one_can(register_learner):
    from cpe.notices.models import OutboundMessage

    unreachable = _terminated(register_learner, TerminationReason.UNREACHABLE)
    violation = _terminated(register_learner, TerminationReason.VIOLATION)
    bodies = {m.to: m.body for m in OutboundMessage.objects.filter(event="account.terminated")}
    assert "恢复服务" in bodies[unreachable.mobile]
    assert "恢复服务" not in bodies[violation.mobile]
