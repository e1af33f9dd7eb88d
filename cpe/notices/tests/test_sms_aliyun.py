"""The Aliyun SMS adapter's real code against the embedded stand-in over HTTP (live_server):
signed SendSms calls, templates and their parameters, and the provider's refusals, each of which
leaves the message failed (to be retried) and nothing sent."""

from dataclasses import replace

import pytest
import requests

from cpe.notices.models import Channel, MessageStatus
from cpe.notices.services import message_queue, message_send
from cpe.notices.sms import aliyun
from cpe.notices.sms.base import SmsError
from cpe.sandbox.models import SandboxSms

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(settings, live_server, monkeypatch):
    # The test sends each message itself (message_send), instead of the task after commit.
    monkeypatch.setattr("cpe.notices.tasks.message_deliver.delay", lambda *a, **k: None)
    settings.SITE_URL = live_server.url
    settings.PAYMENT_SANDBOX = True
    settings.SMS_BACKEND = "cpe.notices.sms.aliyun.AliyunSmsBackend"
    return live_server.url


def _queue(body="您的验证码为 246810，5 分钟内有效。", event="code.register", params=None, to="13900001111"):
    return message_queue(channel=Channel.SMS, to=to, body=body, event=event, params=params)


def test_a_code_goes_out_through_its_template_and_a_notice_through_the_general_one(site):
    msg = _queue(params={"code": "246810"})
    assert message_send(msg.pk)
    msg.refresh_from_db()
    sent = SandboxSms.objects.get()
    assert msg.status == MessageStatus.SENT and msg.provider_id == sent.biz_id
    assert (sent.phone, sent.template_code, sent.params) == (
        "13900001111",
        "SMS_900000002",
        {"code": "246810"},
    )
    assert sent.sign_name == aliyun.SANDBOX_SIGN_NAME

    notice = _queue(body="您的订单 C202611280001 已支付成功。", event="order.paid", to="13900002222")
    assert message_send(notice.pk)
    assert SandboxSms.objects.get(phone="13900002222").params == {
        "content": "您的订单 C202611280001 已支付成功。"
    }
    assert message_send(notice.pk) and SandboxSms.objects.count() == 2  # sent once: not again


@pytest.mark.parametrize(
    "change, code",
    [
        ({"to": "1390000111"}, "isv.MOBILE_NUMBER_ILLEGAL"),
        ({"secret": "not-the-secret"}, "SignatureDoesNotMatch"),
        ({"sign_name": "别的签名"}, "isv.SMS_SIGNATURE_ILLEGAL"),
    ],
)
def test_refusals_leave_the_message_failed_and_nothing_sent(site, monkeypatch, change, code):
    if "secret" in change or "sign_name" in change:
        real = aliyun.aliyun_sms_settings
        monkeypatch.setattr(
            aliyun,
            "aliyun_sms_settings",
            lambda: replace(
                real(),
                **(
                    {"access_key_secret": change["secret"]}
                    if "secret" in change
                    else {"sign_name": change["sign_name"]}
                ),
            ),
        )
    msg = _queue(params={"code": "246810"}, to=change.get("to", "13900001111"))
    with pytest.raises(SmsError) as exc:
        message_send(msg.pk)
    assert code in str(exc.value)
    msg.refresh_from_db()
    assert msg.status == MessageStatus.FAILED and code in msg.last_error and msg.attempts == 1
    assert not SandboxSms.objects.exists()


def test_flow_control_one_per_minute_per_number_and_template(site):
    assert message_send(_queue(params={"code": "111111"}).pk)
    second = _queue(params={"code": "222222"})
    with pytest.raises(SmsError, match="isv.BUSINESS_LIMIT_CONTROL"):
        message_send(second.pk)
    assert SandboxSms.objects.count() == 1
    assert message_send(_queue(event="order.paid", body="通知").pk)  # another template is not limited


def test_a_signed_call_cannot_be_replayed(site):
    conf = aliyun.aliyun_sms_settings()
    form = {
        "AccessKeyId": conf.access_key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "Version": aliyun.API_VERSION,
        "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": "fixed-nonce-1",
        "Timestamp": __import__("datetime")
        .datetime.now(__import__("datetime").timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "PhoneNumbers": "13900003333",
        "SignName": conf.sign_name,
        "TemplateCode": conf.template_default,
        "TemplateParam": '{"content":"测试"}',
    }
    form["Signature"] = aliyun.signature(form, conf.access_key_secret)
    assert requests.post(conf.endpoint, data=form, timeout=10).json()["Code"] == "OK"
    again = requests.post(conf.endpoint, data=form, timeout=10).json()
    assert again["Code"] == "SignatureNonceUsed" and SandboxSms.objects.count() == 1
    form["TemplateParam"] = '{"content":"改过的内容"}'  # altered after signing
    form["SignatureNonce"] = "fixed-nonce-2"
    assert requests.post(conf.endpoint, data=form, timeout=10).json()["Code"] == "SignatureDoesNotMatch"


def test_percent_encoding_is_the_protocols():
    assert aliyun.percent("a b*c~d+e/中") == "a%20b%2Ac~d%2Be%2F%E4%B8%AD"
