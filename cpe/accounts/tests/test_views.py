"""Pages as a user uses them (Django test client)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpe.accounts import policy
from cpe.accounts.models import User
from cpe.accounts.tests.factories import last_code, make_id_number, verify_staff_session

pytestmark = pytest.mark.django_db
PASSWORD = "Zhang-san-2026"


def _register_post(client, mobile="13800138000", **kw):
    data = {
        "id_number": make_id_number(),
        "name": "张三",
        "email": "z@example.com",
        "mobile": mobile,
        "employer": "呼和浩特市某单位",
        "region": "150100",
        "password": PASSWORD,
        "password2": PASSWORD,
        "accept": "on",
    }
    data.update(kw)
    return client.post(reverse("accounts:register"), data)


def test_register_page_has_exactly_the_six_labelled_fields(client, agreement_v1):
    html = client.get(reverse("accounts:register")).content.decode()
    for label in ["身份证号码", "姓名", "电子邮箱", "手机号码", "工作单位", "会计人员信息管理地区"]:
        assert f">{label}</label>" in html
    for region in ["自治区直属（区直）", "呼和浩特市", "满洲里市", "二连浩特市", "阿拉善盟"]:
        assert region in html
    assert html.count("<option") == 16  # 15 regions + the prompt


def test_register_with_sms_code_then_dashboard(client, agreement_v1):
    r = client.post(reverse("accounts:register_code"), {"mobile": "13800138000"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "验证码已发送至 138****8000" in r.content.decode()
    r = _register_post(client, sms_code=last_code("13800138000"))
    assert r.status_code == 302 and r.url == reverse("accounts:dashboard")
    page = client.get(reverse("accounts:dashboard")).content.decode()
    assert "尚未购买课程" in page and "未核验" in page


def test_register_errors_are_chinese_next_to_the_field_and_create_nothing(client, agreement_v1):
    client.post(reverse("accounts:register_code"), {"mobile": "13800138000"})
    r = _register_post(client, id_number="110105194912310021", sms_code=last_code("13800138000"))
    assert r.status_code == 400
    assert "校验位不正确" in r.content.decode()
    r = _register_post(client, password2="other-pass-1", sms_code=last_code("13800138000"))
    assert "两次输入的密码不一致" in r.content.decode()
    r = _register_post(client, sms_code="12345" + ("0" if last_code("13800138000")[-1] != "0" else "1"))
    assert "验证码不正确" in r.content.decode()
    assert User.objects.count() == 0


def test_sms_throttle_answers_429(client, agreement_v1, settings):
    limit = int(policy.SMS_RATE_PER_IP.split("/")[0])
    for i in range(limit):
        client.post(reverse("accounts:register_code"), {"mobile": f"1350000{i:04d}"})
    r = client.post(reverse("accounts:register_code"), {"mobile": "13599999999"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 429 and "过于频繁" in r.content.decode()


def test_registration_throttle_answers_429(client, agreement_v1):
    limit = int(policy.REGISTER_RATE_PER_IP.split("/")[0])
    for _ in range(limit):
        _register_post(client, sms_code="000000")
    assert _register_post(client, sms_code="000000").status_code == 429


def test_login_by_id_number_or_mobile(client, register_learner):
    user = register_learner(mobile="13911112222")
    for ident in (user.id_number.lower(), "13911112222"):
        c = Client()
        r = c.post(reverse("accounts:login"), {"username": ident, "password": PASSWORD})
        assert r.status_code == 302, ident
        assert "尚未购买课程" in c.get(reverse("accounts:dashboard")).content.decode()


def test_axes_locks_account_ip_pair_after_five_failures(register_learner):
    user = register_learner(mobile="13911113333")
    c = Client(REMOTE_ADDR="10.1.1.1")
    for _ in range(5):
        r = c.post(reverse("accounts:login"), {"username": user.id_number, "password": "wrong-pass"})
    assert r.status_code == 429 and "锁定 30 分钟" in r.content.decode()
    # Locked even with the right password, typed as the mobile this time (same account).
    r = c.post(reverse("accounts:login"), {"username": "13911113333", "password": PASSWORD})
    assert r.status_code == 429
    # Another network is not locked out: a stranger cannot lock the learner out everywhere.
    r = Client(REMOTE_ADDR="10.2.2.2").post(
        reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD}
    )
    assert r.status_code == 302
    # axes stores no clear identifier.
    from axes.models import AccessAttempt

    assert all(
        user.id_number not in a.username and "1391111" not in a.username for a in AccessAttempt.objects.all()
    )


def test_second_sign_in_ends_first_session(register_learner):
    user = register_learner()
    first, second = Client(), Client()
    first.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    assert first.get(reverse("accounts:dashboard")).status_code == 200
    second.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    r = first.get(reverse("accounts:dashboard"))
    assert r.status_code == 302 and "ended=elsewhere" in r.url
    assert "已在其他设备" in first.get(r.url).content.decode()
    assert second.get(reverse("accounts:dashboard")).status_code == 200


def test_new_agreement_version_gates_everything_until_accepted(client, register_learner):
    from cpe.agreements.services import agreement_publish

    user = register_learner()
    client.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    assert client.get(reverse("accounts:dashboard")).status_code == 200
    agreement_publish(
        version="2.0",
        title="用户服务协议与隐私政策",
        body="新版正文",
        is_minor=False,
        effective_at=timezone.now() - timedelta(seconds=1),
    )
    r = client.get(reverse("accounts:profile"))
    assert r.status_code == 302 and r.url.startswith(reverse("agreements:accept"))
    assert "新版正文" in client.get(reverse("agreements:accept")).content.decode()
    client.post(reverse("agreements:accept"), {"decision": "accept"})
    assert client.get(reverse("accounts:profile")).status_code == 200
    # A minor edit (typo fix) needs no new acceptance.
    agreement_publish(
        version="2.0.1",
        title="用户服务协议与隐私政策",
        body="新版正文（勘误）",
        is_minor=True,
        effective_at=timezone.now() - timedelta(seconds=1),
    )
    assert client.get(reverse("accounts:profile")).status_code == 200


def test_declining_requires_confirmation_then_terminates(client, register_learner):
    from cpe.agreements.models import AgreementAcceptance
    from cpe.agreements.services import agreement_publish

    user = register_learner()
    client.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    agreement_publish(
        version="2.0",
        title="用户服务协议与隐私政策",
        body="新版正文",
        is_minor=False,
        effective_at=timezone.now() - timedelta(seconds=1),
    )
    r = client.post(reverse("agreements:accept"), {"decision": "decline"})
    assert r.status_code == 400 and User.objects.get(pk=user.pk).is_active
    r = client.post(reverse("agreements:accept"), {"decision": "decline", "confirm_decline": "1"})
    assert r.url == reverse("agreements:closed")
    user.refresh_from_db()
    assert user.status == "terminated" and not user.is_active
    assert AgreementAcceptance.objects.filter(user=user, decision="declined").count() == 1
    assert AgreementAcceptance.objects.filter(user=user, decision="accepted").count() == 1  # v1 kept
    r = client.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    assert "终止服务" in r.content.decode()


def test_profile_shows_masked_identity_and_history(client, register_learner):
    user = register_learner(mobile="13977778888")
    client.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    html = client.get(reverse("accounts:profile")).content.decode()
    assert user.id_number not in html and "13977778888" not in html
    assert user.id_number[:6] + "********" + user.id_number[-4:] in html
    assert "139****8888" in html and "登录记录" in html


def test_hold_is_explained_on_dashboard(client, register_learner, django_user_model):
    from cpe.accounts.services import correction_hold_set

    user = register_learner()
    staff = django_user_model.objects.create_user("op", "x", is_staff=True, name="运营")
    correction_hold_set(user_id=user.pk, reason="姓名与身份证不一致", actor=staff)
    client.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    html = client.get(reverse("accounts:dashboard")).content.decode()
    assert "姓名与身份证不一致" in html and "购买课程、学习、考试" in html
    assert client.get(reverse("accounts:profile_edit")).status_code == 200  # can still fix data


def test_dev_outbox_hidden_without_debug(client):
    assert client.get("/dev/outbox/").status_code == 404


def test_identity_change_reviewed_in_staff_site(client, register_learner, django_user_model):
    from django.contrib.auth.models import Group

    from cpe.backoffice.services import roles_sync

    roles_sync()
    user = register_learner(name="李四")
    client.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    client.post(
        reverse("accounts:identity_change"), {"field": "name", "new_value": "李斯", "reason": "已改名"}
    )
    reviewer = django_user_model.objects.create_user("reviewer", "Rev-pass-2026", is_staff=True, name="审核")
    reviewer.groups.add(Group.objects.get(name="审核人员"))
    staff = Client()
    assert (
        staff.post(
            reverse("accounts:login"), {"username": "reviewer", "password": "Rev-pass-2026"}
        ).status_code
        == 302
    )
    verify_staff_session(staff, reviewer)
    req = user.identity_changes.get()
    url = reverse("admin:accounts_identitychangerequest_change", args=[req.pk])
    assert "批准变更" in staff.get(url).content.decode()
    staff.post(url, {"decision_note": "", "_reject": "1"})
    assert User.objects.get(pk=user.pk).name == "李四"  # rejection without a note refused
    staff.post(url, {"decision_note": "核对无误", "_approve": "1"})
    assert User.objects.get(pk=user.pk).name == "李斯"
    # The reviewer cannot publish agreements (least privilege).
    assert staff.get(reverse("admin:agreements_agreementversion_add")).status_code == 403


def test_sign_out_then_in_ends_nothing(register_learner):
    from cpe.accounts.models import LoginRecord

    user = register_learner()
    c = Client()
    c.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    c.post(reverse("accounts:logout"))
    r = c.post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD}, follow=True)
    assert "已结束您在其他设备" not in r.content.decode()
    assert not LoginRecord.objects.filter(user=user).latest("at").ended_other_session


def test_reviewer_sees_current_and_requested_values_in_full_audited(
    client, register_learner, django_user_model
):
    """The review page masks; the reviewer (review_identity) opens both values in full through
    an audited reveal; staff without it are refused and nothing is audited."""
    from django.contrib.auth.models import Group

    from cpe.backoffice.services import roles_sync
    from cpe.core.models import AuditEvent

    roles_sync()
    user = register_learner(name="巴特尔")
    client.force_login(user)
    new_id = make_id_number(seq="977")
    client.post(
        reverse("accounts:identity_change"), {"field": "id_number", "new_value": new_id, "reason": "录入错误"}
    )
    req = user.identity_changes.get()
    change = reverse("admin:accounts_identitychangerequest_change", args=[req.pk])
    reveal = reverse("admin:accounts_identitychangerequest_reveal", args=[req.pk])

    auditor = django_user_model.objects.create_user("aud", "x", is_staff=True, name="审计")
    auditor.groups.add(Group.objects.get(name="审计人员"))
    staff = Client()
    staff.force_login(auditor)
    assert reveal not in staff.get(change).content.decode()
    html = staff.get(reveal, follow=True).content.decode()
    assert new_id not in html and user.id_number not in html and "没有查看完整身份信息的权限" in html
    assert not AuditEvent.objects.filter(event_type="account.identity_viewed").exists()

    reviewer = django_user_model.objects.create_user("rev", "x", is_staff=True, name="审核")
    reviewer.groups.add(Group.objects.get(name="审核人员"))
    staff.force_login(reviewer)
    page = staff.get(change).content.decode()
    assert reveal in page and new_id not in page  # masked until revealed
    html = staff.get(reveal).content.decode()
    assert new_id in html and user.id_number in html and "巴特尔" in html
    event = AuditEvent.objects.get(event_type="account.identity_viewed")
    assert event.actor_id == reviewer.pk and event.subject_id == str(user.pk)
    assert event.data["request"] == req.pk and new_id not in str(event.data)
