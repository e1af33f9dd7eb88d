"""下载我的个人信息 (rules R14, PIPL Art. 45): the file holds the learner's own data, in full,
and nothing of anyone else, nor any secret; pages re-authenticate, throttle and audit."""

import io
import json
import zipfile
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from cpe.accounts import personal_data, policy
from cpe.accounts.errors import AccountError
from cpe.core.models import AuditEvent
from cpe.exams.tests.factories import pass_course
from cpe.invoicing.account_life import INVOICE_RECIPIENT
from cpe.learning.tests.factories import complete_chapters
from cpe.orders.tests.factories import pay
from cpe.reporting.account_life import AIS_PURPOSE_LABELS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]
PASSWORD = "Zhang-san-2026"  # the root register_learner fixture's password
EXPORT_EVENT = "account.personal_data_exported"
ANDROID_UA = "Mozilla/5.0 (Linux; Android 14) Chrome/130.0"


def _unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.fixture
def history(learner, course, settings, client):
    """The learner's paid order, chapters watched, a passed exam (credit record), an invoice, an
    identity-change request and an AIS transfer log entry, all through the real services."""
    from cpe.accounts.services import identity_change_request
    from cpe.invoicing.services import invoice_request
    from cpe.reporting.services import privacy_transfer_record

    settings.INVOICE_PROVIDER = "cpe.invoicing.providers.local.LocalInvoiceProvider"
    settings.INVOICE_LOCAL_FAIL = ""
    order = pay(learner)
    at = complete_chapters(learner, course)
    attempt = pass_course(learner, course, at=at)
    invoice = invoice_request(
        user=learner,
        order_number=order.number,
        buyer_type="unit",
        buyer_name="包头市某公司",
        unit_kind="enterprise",
        taxpayer_id="914403001922038216",
    )
    identity_change_request(user=learner, field="name", new_value="张叁", reason="户籍更名")
    from cpe.learning.services import play_start
    from cpe.support.services import thread_ask

    play_start(
        user=learner,
        chapter_id=course.chapters.order_by("position").first().pk,
        at=at,
        ip="10.1.2.3",
        rand=lambda: 0.5,
    )
    thread_ask(user=learner, title="发票何时开具", body="请问发票多久能开出来？")
    privacy_transfer_record(
        user=learner, purpose="person_check", fields=["id_number", "name"], outcome="found"
    )
    assert (
        client.post(
            reverse("accounts:login"),
            {"username": learner.mobile, "password": PASSWORD},
            HTTP_USER_AGENT=ANDROID_UA,
        ).status_code
        == 302
    )
    return {"order": order, "attempt": attempt, "invoice": invoice}


@pytest.fixture
def stranger(register_learner, year):
    """A second learner with an order of their own."""
    other = register_learner(name="王五", email="wangwu@example.com", mobile="13600001111")
    return {"user": other, "order": pay(other)}


def test_file_holds_the_learners_full_data_and_nothing_of_another(learner, history, stranger):
    learner.refresh_from_db()
    export = personal_data.personal_data_export(user=learner, password=PASSWORD, ip="10.0.0.8")
    files = _unzip(export.content)
    assert set(files) == {"个人信息.json", "个人信息.html"}
    data = json.loads(files["个人信息.json"].decode("utf-8"))
    html = files["个人信息.html"].decode("utf-8")

    account = data["账户信息"]
    assert (account["姓名"], account["身份证号码"], account["手机号码"]) == (
        learner.name,
        learner.id_number,
        learner.mobile,
    )
    assert account["电子邮箱"] == learner.email and account["会计人员信息管理地区"] == "包头市"
    assert [o["订单号"] for o in data["订单"]] == [history["order"].number]
    assert data["订单"][0]["金额（元）"] == "198.00" and data["订单"][0]["支付方式"] == "支付宝"
    assert data["课程学习（选课）"][0]["订单号"] == history["order"].number
    assert data["章节学习进度"] and all(p["已完成"] == "是" for p in data["章节学习进度"])
    assert data["考试记录"][0]["合格"] == "是"
    assert "10.1.2.3" in [p["IP"] for p in data["播放记录"]]
    assert [(m["问题"], m["发言"], m["内容"]) for m in data["在线提问"]] == [
        ("发票何时开具", "本人", "请问发票多久能开出来？")
    ]
    assert data["学时记录"][0]["记录编号"] == str(history["attempt"].credit_record.uid)
    assert data["发票"][0]["纳税人识别号"] == "914403001922038216"
    assert data["身份信息变更申请"][0]["新值"] == "张叁"
    assert data["协议同意记录"][0]["协议版本"] == "1.0"
    assert [(r["IP"], r["设备"]) for r in data["登录记录"]] == [("127.0.0.1", ANDROID_UA)]
    sent = {(m["类型"], m["渠道"]) for m in data["发送给您的通知"]}
    assert {("支付成功通知", "短信"), ("邮箱验证链接", "电子邮件")} <= sent
    recipients = {t["接收方"] for t in data["向第三方提供的个人信息"]}
    assert {"支付宝", INVOICE_RECIPIENT} <= recipients
    ais = [t for t in data["向第三方提供的个人信息"] if "会计人员信息管理系统" in t["接收方"]]
    assert [(t["目的"], t["提供的信息"]) for t in ais] == [
        (AIS_PURPOSE_LABELS["person_check"], "身份证号码、姓名")
    ]
    # The same content, readable: the full ID number and the order number are in the HTML too.
    assert learner.id_number in html and history["order"].number in html and "向第三方提供的个人信息" in html

    raw = b"".join(files.values())
    other = stranger["user"]
    for foreign in (other.id_number, other.mobile, other.email, other.name, stranger["order"].number):
        assert foreign.encode() not in raw, foreign
    for secret in (learner.password, learner.id_number_bidx, learner.mobile_bidx):
        assert secret and secret.encode() not in raw
    assert "验证码 " not in raw.decode("utf-8")  # the messages' bodies (codes) are not copied


def test_session_key_is_not_in_the_file(learner):
    from cpe.accounts.models import User

    User.objects.filter(pk=learner.pk).update(session_key_hash="5" * 64)
    learner.refresh_from_db()
    content = personal_data.personal_data_export(user=learner, password=PASSWORD).content
    assert b"5" * 64 not in b"".join(_unzip(content).values())


def test_wrong_password_exports_nothing_and_records_nothing(learner):
    before = AuditEvent.objects.count()
    with pytest.raises(AccountError) as exc:
        personal_data.personal_data_export(user=learner, password="not-the-password", ip="10.0.0.8")
    assert exc.value.field == "password" and "密码不正确" in exc.value.message
    assert AuditEvent.objects.count() == before


def test_export_is_audited_without_personal_data(learner):
    personal_data.personal_data_export(user=learner, password=PASSWORD, ip="10.0.0.8")
    event = AuditEvent.objects.get(event_type=EXPORT_EVENT)
    assert (event.actor_id, event.subject_id, event.ip) == (learner.pk, str(learner.pk), "10.0.0.8")
    assert learner.id_number not in json.dumps(event.data) and learner.mobile not in json.dumps(event.data)


def test_a_column_naming_a_forbidden_attribute_is_refused():
    with pytest.raises(ValueError):
        personal_data.Section("x", lambda u: [u], columns=(("会话", "session_key"),))
    with pytest.raises(ValueError):
        personal_data.Section("x", lambda u: [u], columns=(("会话", "session_key_hash"),))


@pytest.mark.parametrize(
    "at, expected",
    [
        (datetime(2026, 11, 28, 15, 59, 59, tzinfo=ZoneInfo("UTC")), "个人信息-2026-11-28.zip"),
        (
            datetime(2026, 11, 28, 16, 0, 0, tzinfo=ZoneInfo("UTC")),
            "个人信息-2026-11-29.zip",
        ),  # Beijing midnight
    ],
)
def test_file_name_is_dated_by_the_beijing_day(at, expected):
    name, ascii_name = policy.personal_data_filenames(at)
    assert name == expected and ascii_name == expected.replace("个人信息", "personal-data")


# --- the page -------------------------------------------------------------------------------------
URL = reverse("accounts:personal_data")


@pytest.fixture
def signed_in(client, learner):
    client.force_login(learner)
    return client


def test_not_signed_in_goes_to_login(client):
    r = client.get(URL)
    assert r.status_code == 302 and r.url.startswith(reverse("accounts:login"))
    r = client.post(URL, {"password": PASSWORD})
    assert r.status_code == 302 and r.url.startswith(reverse("accounts:login"))


def test_profile_links_to_the_download_page(signed_in):
    page = signed_in.get(reverse("accounts:profile")).content.decode()
    assert f'href="{URL}"' in page and "下载我的个人信息" in page
    page = signed_in.get(URL).content.decode()
    assert "完整的身份证号码" in page and ">登录密码</label>" in page


def test_wrong_password_shows_error_no_file_no_audit(signed_in):
    before = AuditEvent.objects.filter(event_type=EXPORT_EVENT).count()
    r = signed_in.post(URL, {"password": "wrong-password-1"})
    assert r.status_code == 400 and r["Content-Type"].startswith("text/html")
    assert "密码不正确" in r.content.decode() and "Content-Disposition" not in r
    assert AuditEvent.objects.filter(event_type=EXPORT_EVENT).count() == before


def test_right_password_downloads_the_zip(signed_in, learner):
    r = signed_in.post(URL, {"password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    name, ascii_name = policy.personal_data_filenames(timezone.now())
    disposition = r["Content-Disposition"]
    assert disposition.startswith("attachment;") and f'filename="{ascii_name}"' in disposition
    assert f"filename*=utf-8''{quote(name)}" in disposition
    assert "no-store" in r["Cache-Control"]
    data = json.loads(_unzip(r.content)["个人信息.json"])
    assert data["账户信息"]["身份证号码"] == learner.id_number
    events = AuditEvent.objects.filter(event_type=EXPORT_EVENT)
    assert events.count() == 1 and events.get().actor_id == learner.pk


def test_page_is_throttled_per_account(signed_in):
    limit = int(policy.PERSONAL_DATA_RATE_PER_USER.split("/")[0])
    for _ in range(limit):
        assert signed_in.post(URL, {"password": "wrong-password-1"}).status_code == 400
    r = signed_in.post(URL, {"password": PASSWORD})
    assert r.status_code == 429 and "过于频繁" in r.content.decode()
    assert not AuditEvent.objects.filter(event_type=EXPORT_EVENT).exists()
