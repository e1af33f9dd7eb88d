"""What a banned or terminated person meets (rules R12, PIPL Art. 45): the reason on their next
page, a refused sign-in recorded as refused, the public pages and support still open, and a copy
of their data after proving their phone."""

import io
import json
import zipfile

import pytest
from django.conf import settings
from django.urls import reverse

from cpe.accounts.models import LoginRecord
from cpe.accounts.personal_data import JSON_NAME
from cpe.accounts.states import TerminationReason
from cpe.accounts.tests.factories import last_code
from cpe.core.models import AuditEvent
from cpe.moderation import services
from cpe.notices.models import OutboundMessage

pytestmark = pytest.mark.django_db
BANNED_IP = "203.0.113.9"
PASSWORD = "Zhang-san-2026"
COPY = "/restricted/personal-data/"


@pytest.fixture
def operator(staff_with):
    return staff_with()


# --- a terminated learner's open session ------------------------------------------------------
def test_terminated_learners_open_session_gets_the_reason_on_its_next_page(
    client, register_learner, operator
):
    learner = register_learner()
    client.force_login(learner)
    services.learner_terminate(
        user_id=learner.pk, reason=TerminationReason.OTHER, note="冒用他人身份", actor=operator
    )
    r = client.get("/accounts/dashboard/")
    assert r.status_code == 403 and r["Cache-Control"] == "no-store"
    page = r.content.decode()
    assert "账号已终止服务" in page and "其他：冒用他人身份" in page
    assert settings.SUPPORT_PHONE in page and COPY in page
    assert "_auth_user_id" not in client.session  # told once; the session is over
    r = client.get("/accounts/dashboard/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


def test_terminated_page_keeps_a_seed_grounds_internal_note_internal(client, register_learner, operator):
    learner = register_learner()
    client.force_login(learner)
    services.learner_terminate(
        user_id=learner.pk, reason=TerminationReason.VIOLATION, note="内部工单 #7", actor=operator
    )
    page = client.get("/").content.decode()
    assert "违反用户协议" in page and "内部工单" not in page


def test_terminated_session_under_api_gets_json(client, register_learner, operator):
    learner = register_learner()
    client.force_login(learner)
    services.learner_terminate(user_id=learner.pk, reason=TerminationReason.FALSE_DATA, actor=operator)
    r = client.get("/api/learning/whatever")
    assert r.status_code == 401 and r.json()["code"] == "account_terminated"
    assert r.json()["reason"] == "注册资料虚假"


def test_a_signed_out_visitor_and_an_active_learner_see_no_termination_page(client, register_learner):
    assert client.get("/").status_code == 200
    client.force_login(register_learner())
    assert client.get("/accounts/dashboard/").status_code == 200


# --- the refused sign-in of a banned account -------------------------------------------------------
def test_banned_accounts_sign_in_is_recorded_as_refused_not_as_a_login(
    client, ban_middleware, register_learner, operator
):
    learner = register_learner()
    other = client.__class__()
    other.force_login(learner)  # the account's current session, elsewhere
    learner.refresh_from_db()
    current, logins = learner.session_key_hash, LoginRecord.objects.filter(user=learner).count()
    services.ban_account(user_id=learner.pk, reason="多人共用账号", actor=operator)
    events = AuditEvent.objects.filter(event_type="account.login").count()
    r = client.post(
        "/accounts/login/",
        {"username": learner.id_number, "password": PASSWORD},
        HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 14) Chrome/130.0",
        REMOTE_ADDR="198.51.100.7",
    )
    assert r.status_code == 403 and "多人共用账号" in r.content.decode()
    record = LoginRecord.objects.filter(user=learner).order_by("-id").first()
    assert LoginRecord.objects.filter(user=learner).count() == logins + 1
    assert record.refused and str(record.ip) == "198.51.100.7" and not record.ended_other_session
    assert AuditEvent.objects.filter(event_type="account.login").count() == events  # not a sign-in
    assert (
        AuditEvent.objects.filter(event_type="account.login_refused", subject_id=str(learner.pk)).count() == 1
    )
    learner.refresh_from_db()
    assert learner.session_key_hash == current  # a refused sign-in ends no other session
    assert "_auth_user_id" not in client.session


def test_wrong_password_of_a_banned_account_records_nothing(
    client, ban_middleware, register_learner, operator
):
    learner = register_learner()
    services.ban_account(user_id=learner.pk, reason="x", actor=operator)
    client.post("/accounts/login/", {"username": learner.id_number, "password": "wrong-password-1"})
    assert not LoginRecord.objects.filter(user=learner).exists()


# --- what a banned address may still reach -------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/", "/notices/", "/agreement/", "/support/", "/credits/query/", "/credits/verify/NOSUCHNUMBER/", COPY],
)
def test_public_pages_stay_open_to_a_banned_ip(client, ban_middleware, operator, agreement_v1, path):
    services.ban_network(network=BANNED_IP, reason="x", actor=operator)
    assert client.get(path, REMOTE_ADDR=BANNED_IP).status_code != 403


@pytest.mark.parametrize(
    "path", ["/credits/query/", "/agreement/accept/", "/accounts/login/", "/accounts/register/"]
)
def test_a_banned_ip_cannot_post_the_public_query_or_sign_in(
    client, ban_middleware, operator, agreement_v1, path
):
    services.ban_network(network=BANNED_IP, reason="x", actor=operator)
    r = client.post(path, {}, REMOTE_ADDR=BANNED_IP)
    assert r.status_code == 403 and "访问受限" in r.content.decode()


def test_a_learner_behind_a_banned_ip_can_still_ask_support(
    client, ban_middleware, operator, register_learner
):
    from cpe.support.models import Thread

    learner = register_learner()
    client.force_login(learner)
    services.ban_network(network=BANNED_IP, reason="x", actor=operator)
    r = client.post(
        "/support/ask/",
        {"title": "封禁申诉", "body": "我所在的单位网络被限制访问，请核实。"},
        REMOTE_ADDR=BANNED_IP,
    )
    assert r.status_code != 403
    assert Thread.objects.filter(user=learner, title="封禁申诉").exists()
    assert client.get("/learn/", REMOTE_ADDR=BANNED_IP).status_code == 403  # the rest stays closed


def test_ban_page_links_to_the_faq_and_the_copy(client, ban_middleware, operator, register_learner):
    learner = register_learner()
    client.force_login(learner)
    services.ban_account(user_id=learner.pk, reason="x", actor=operator)
    page = client.get("/accounts/dashboard/").content.decode()
    assert reverse("support:faq") in page and COPY in page


# --- the sanctioned person's copy of their data ----------------------------------------------------
def _copy(client, identifier, code=None, ip=BANNED_IP):
    data = (
        {"identifier": identifier, "action": "send"}
        if code is None
        else {"identifier": identifier, "sms_code": code, "action": "download"}
    )
    return client.post(COPY, data, REMOTE_ADDR=ip)


def _file(response) -> dict:
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        return json.loads(zf.read(JSON_NAME))


def test_banned_person_gets_the_copy_after_the_sms_code_with_the_ban_in_it(
    client, ban_middleware, operator, register_learner
):
    learner = register_learner()
    services.ban_network(network=BANNED_IP, reason="y", actor=operator)  # and from a banned address
    services.ban_account(user_id=learner.pk, reason="多人共用账号", actor=operator)
    r = _copy(client, learner.id_number)
    assert r.status_code == 200 and "验证码已发送" in r.content.decode()
    code = last_code(learner.mobile)
    r = _copy(client, learner.mobile, code)
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    data = _file(r)
    assert data["账户信息"]["身份证号码"] == learner.id_number
    assert [(s["措施"], s["原因"], s["结束时间"]) for s in data["封禁与终止服务记录"]] == [
        ("账号封禁", "多人共用账号", "直至平台解除")
    ]
    event = AuditEvent.objects.get(event_type="account.personal_data_exported", subject_id=str(learner.pk))
    assert event.data["via"] == "sanctioned_sms_code"
    assert _copy(client, learner.mobile, code).status_code == 400  # a code is used once


def test_terminated_person_gets_the_copy_with_the_termination(client, operator, register_learner):
    learner = register_learner()
    services.learner_terminate(
        user_id=learner.pk, reason=TerminationReason.VIOLATION, note="内部", actor=operator
    )
    _copy(client, learner.id_number)
    r = _copy(client, learner.id_number, last_code(learner.mobile))
    assert r["Content-Type"] == "application/zip"
    rows = _file(r)["封禁与终止服务记录"]
    assert [(s["措施"], s["原因"]) for s in rows] == [("终止服务", "违反用户协议")]


def test_wrong_code_gives_no_file_and_is_counted(client, operator, register_learner):
    from cpe.accounts.models import VerificationCode

    learner = register_learner()
    services.ban_account(user_id=learner.pk, reason="x", actor=operator)
    _copy(client, learner.id_number)
    right = last_code(learner.mobile)
    wrong = "000000" if right != "000000" else "111111"
    r = _copy(client, learner.id_number, wrong)
    assert r.status_code == 400 and "验证码不正确" in r.content.decode()
    assert r["Content-Type"].startswith("text/html")
    assert VerificationCode.objects.filter(user=learner, purpose="sanctioned_copy").get().attempts == 1
    assert not AuditEvent.objects.filter(event_type="account.personal_data_exported").exists()


def test_an_account_in_good_standing_gets_no_code_and_no_file(client, register_learner):
    learner = register_learner()
    sms = OutboundMessage.objects.count()
    r = _copy(client, learner.id_number)
    assert r.status_code == 200 and "如该账号处于封禁或终止服务状态" in r.content.decode()  # same answer
    assert OutboundMessage.objects.count() == sms
    r = _copy(client, learner.id_number, "123456")
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")


def test_a_lifted_ban_ends_the_way_in(client, operator, register_learner):
    learner = register_learner()
    ban = services.ban_account(user_id=learner.pk, reason="x", actor=operator)
    _copy(client, learner.id_number)
    code = last_code(learner.mobile)
    services.ban_lift(ban_id=ban.pk, actor=operator)
    r = _copy(client, learner.id_number, code)
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")


def test_an_unknown_identifier_gets_the_same_answer(client):
    sms = OutboundMessage.objects.count()
    r = _copy(client, "13912345678")
    assert r.status_code == 200 and "如该账号处于封禁或终止服务状态" in r.content.decode()
    assert OutboundMessage.objects.count() == sms


def test_signed_in_copy_lists_a_lifted_ban_and_the_refused_sign_in(
    client, ban_middleware, operator, register_learner
):
    from django.utils import timezone

    learner = register_learner()
    ban = services.ban_account(
        user_id=learner.pk,
        reason="多人共用账号",
        actor=operator,
        ends_at=timezone.now() + timezone.timedelta(days=1),
    )
    client.post("/accounts/login/", {"username": learner.id_number, "password": PASSWORD})  # refused
    services.ban_lift(ban_id=ban.pk, actor=operator, note="内部：已核实")
    assert (
        client.post("/accounts/login/", {"username": learner.id_number, "password": PASSWORD}).status_code
        == 302
    )
    r = client.post(reverse("accounts:personal_data"), {"password": PASSWORD})
    data = _file(r)
    [row] = data["封禁与终止服务记录"]
    assert row["措施"] == "账号封禁" and row["原因"] == "多人共用账号" and row["解除时间"]
    assert "内部：已核实" not in json.dumps(
        data, ensure_ascii=False
    )  # the staff's lifting note stays internal
    assert [x["登录被拒绝（封禁中）"] for x in data["登录记录"]] == ["是", "否"]


def test_a_refused_sign_in_does_not_make_its_device_a_known_one(
    client, ban_middleware, operator, register_learner
):
    learner = register_learner()
    phone, laptop = (
        "Mozilla/5.0 (Linux; Android 14) Chrome/130.0",
        "Mozilla/5.0 (Windows NT 10.0) Firefox/130.0",
    )
    assert (
        client.post(
            "/accounts/login/", {"username": learner.id_number, "password": PASSWORD}, HTTP_USER_AGENT=phone
        ).status_code
        == 302
    )
    client.post("/accounts/logout/")
    ban = services.ban_account(user_id=learner.pk, reason="x", actor=operator)
    client.post(
        "/accounts/login/", {"username": learner.id_number, "password": PASSWORD}, HTTP_USER_AGENT=laptop
    )
    services.ban_lift(ban_id=ban.pk, actor=operator)
    assert (
        client.post(
            "/accounts/login/", {"username": learner.id_number, "password": PASSWORD}, HTTP_USER_AGENT=laptop
        ).status_code
        == 302
    )
    latest = LoginRecord.objects.filter(user=learner, refused=False).order_by("-id").first()
    assert latest.is_new_device  # the laptop's first real sign-in is still reported as a new device


@pytest.mark.parametrize("path", ["/", "/notices/", "/support/", COPY])
def test_a_banned_accounts_session_meets_the_ban_page_even_on_an_open_page(
    client, ban_middleware, operator, register_learner, agreement_v1, path
):
    learner = register_learner()
    client.force_login(learner)
    services.ban_account(user_id=learner.pk, reason="多人共用账号", actor=operator)
    r = client.get(path)
    assert r.status_code == 403 and "多人共用账号" in r.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(path).status_code == 200  # then an anonymous visitor, who may read it
