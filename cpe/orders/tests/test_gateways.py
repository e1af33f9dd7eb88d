"""The real Alipay and WeChat Pay adapters, run against the embedded sandbox gateway over real
HTTP (live_server): creating payments on the four channels, parsing notifications (and the
catalogue of notifications that must change nothing), query and refund."""

import json
import socket
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.utils import timezone

from cpe.orders.gateways import get_gateway
from cpe.orders.gateways.base import GatewayError, NotificationRejected, PaymentNotice, PaymentRequest
from cpe.sandbox import keys
from cpe.sandbox.models import SandboxRefund, SandboxTrade
from cpe.sandbox.testing import (
    foreign_private_pem,
    sandbox_pay,
    signed_alipay_notification,
    signed_wechat_notification,
    stop_retries,
)

live = pytest.mark.django_db(transaction=True)
CHANNELS = ["alipay_page", "alipay_wap", "wechat_native", "wechat_h5"]
GATEWAY = {"alipay_page": "alipay", "alipay_wap": "alipay", "wechat_native": "wechat", "wechat_h5": "wechat"}


@pytest.fixture
def site(settings, live_server):
    """The adapters talk to the sandbox served by the live server."""
    settings.SITE_URL = live_server.url
    yield live_server.url
    stop_retries()


def payment_request(
    site: str, channel: str, number: str = "CPE202601010001", amount_fen: int = 8800, **extra
) -> PaymentRequest:
    return PaymentRequest(
        order_number=number,
        amount_fen=amount_fen,
        subject="2026年度会计人员继续教育（90学时）",
        channel=channel,
        notify_url=f"{site}/pay/notify/{GATEWAY[channel]}/",
        return_url=f"{site}/orders/{number}/return/",
        client_ip="203.0.113.9",
        **extra,
    )


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test on any outbound connection (and record the attempt)."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args[1:] or kwargs)
        raise AssertionError(f"unexpected outbound connection: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)
    return calls


# -- creating payments -------------------------------------------------------------------------
@live
@pytest.mark.parametrize("channel", CHANNELS)
def test_create_payment_opens_the_sandbox_cashier(site, channel):
    start = get_gateway(GATEWAY[channel]).create_payment(payment_request(site, channel))

    if channel.startswith("alipay"):
        assert start.kind == "redirect"
        assert start.url.startswith(f"{site}/sandbox/alipay/gateway.do?")
        query = parse_qs(urlparse(start.url).query)
        assert query["method"] == [
            {"alipay_page": "alipay.trade.page.pay", "alipay_wap": "alipay.trade.wap.pay"}[channel]
        ]
        assert json.loads(query["biz_content"][0])["total_amount"] == "88.00"
        assert not SandboxTrade.objects.exists()  # Alipay opens the trade when the browser arrives
    elif channel == "wechat_native":
        assert start.kind == "qr"
        assert SandboxTrade.objects.get().kind == "native"
    else:
        assert start.kind == "redirect"
        assert parse_qs(urlparse(start.url).query)["redirect_url"] == [
            f"{site}/orders/CPE202601010001/return/"
        ]
        assert SandboxTrade.objects.get().kind == "h5"

    page = requests.get(start.url, timeout=10)  # the browser (or the phone that scanned the QR)
    assert page.status_code == 200
    assert "2026年度会计人员继续教育（90学时）" in page.text and "88.00" in page.text
    for button in ("支付成功", "支付失败", "只支付不通知"):
        assert button in page.text
    trade = SandboxTrade.objects.get()
    assert (trade.out_trade_no, trade.amount_fen, trade.status) == ("CPE202601010001", 8800, "wait")
    assert trade.notify_url == f"{site}/pay/notify/{GATEWAY[channel]}/"


@live
def test_create_payment_passes_the_expiry(site):
    expires = timezone.now() + timedelta(minutes=30)
    start = get_gateway("wechat").create_payment(payment_request(site, "wechat_native", expires_at=expires))
    assert start.kind == "qr"
    assert abs((SandboxTrade.objects.get().expires_at - expires).total_seconds()) < 1


@live
def test_alipay_subject_special_characters_are_replaced(site):
    req = PaymentRequest(
        order_number="CPE1",
        amount_fen=1,
        subject="会计/税务=实务&案例",
        channel="alipay_page",
        notify_url=f"{site}/n/",
        return_url=f"{site}/r/",
    )
    biz = json.loads(
        parse_qs(urlparse(get_gateway("alipay").create_payment(req).url).query)["biz_content"][0]
    )
    assert biz["subject"] == "会计 税务 实务 案例" and biz["total_amount"] == "0.01"


@live
def test_a_tampered_alipay_pay_url_is_refused_by_the_sandbox(site):
    start = get_gateway("alipay").create_payment(payment_request(site, "alipay_page"))
    tampered = start.url.replace("88.00", "0.01")
    page = requests.get(tampered, timeout=10)
    assert page.status_code == 400 and "验签出错" in page.text
    assert not SandboxTrade.objects.exists()


@live
def test_requests_signed_with_another_key_are_refused(site):
    from dataclasses import replace

    from cpe.orders.gateways.alipay import AlipayGateway
    from cpe.orders.gateways.wechat import WechatPayGateway

    alipay = AlipayGateway(replace(get_gateway("alipay").cfg, app_private_key_pem=foreign_private_pem()))
    with pytest.raises(GatewayError, match="invalid-signature"):
        alipay.query("CPE202601010001")
    wechat = WechatPayGateway(replace(get_gateway("wechat").cfg, private_key_pem=foreign_private_pem()))
    with pytest.raises(GatewayError, match="SIGN_ERROR"):
        wechat.create_payment(payment_request(site, "wechat_native"))
    assert not SandboxTrade.objects.exists()


# -- notifications -----------------------------------------------------------------------------
@pytest.mark.django_db
def test_signed_alipay_notification_parses():
    headers, body = signed_alipay_notification(
        "CPE202601010001", 8800, trade_no="2026010122001400001", notify_id="n-1"
    )
    notice = get_gateway("alipay").parse_notification(headers, body)
    assert isinstance(notice, PaymentNotice)
    assert (notice.order_number, notice.gateway_txn_id, notice.amount_fen, notice.notify_id) == (
        "CPE202601010001",
        "2026010122001400001",
        8800,
        "n-1",
    )
    assert notice.paid_at is not None and notice.raw["trade_status"] == "TRADE_SUCCESS"
    assert get_gateway("alipay").notification_answer(True).body == b"success"
    assert get_gateway("alipay").notification_answer(False).body == b"fail"


@pytest.mark.django_db
def test_alipay_amounts_are_decimal_not_float():
    # 0.29 * 100 = 28.999999999999996 in binary floating point.
    _, body = signed_alipay_notification("CPE1", 29)
    assert get_gateway("alipay").parse_notification({}, body).amount_fen == 29


@pytest.mark.django_db
def test_signed_wechat_notification_parses():
    headers, body = signed_wechat_notification(
        "CPE202601010002", 12345, transaction_id="4200000001", notify_id="EV-1"
    )
    lower = {k.lower(): v for k, v in headers.items()}  # header names in any case
    notice = get_gateway("wechat").parse_notification(lower, body)
    assert (notice.order_number, notice.gateway_txn_id, notice.amount_fen, notice.notify_id) == (
        "CPE202601010002",
        "4200000001",
        12345,
        "EV-1",
    )
    assert notice.paid_at is not None and notice.raw["resource"]["trade_state"] == "SUCCESS"
    ok, fail = (
        get_gateway("wechat").notification_answer(True),
        get_gateway("wechat").notification_answer(False),
    )
    assert ok.status in (200, 204)
    assert fail.status >= 400 and json.loads(fail.body)["code"] == "FAIL"


@pytest.mark.django_db
def test_wechat_notification_accepts_django_meta_header_names():
    headers, body = signed_wechat_notification("CPE1", 100)
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    assert get_gateway("wechat").parse_notification(meta, body).amount_fen == 100


ALIPAY_BAD = {
    "bad_signature": (dict(bad_signature=True), "bad_signature"),
    "altered_amount": (dict(tamper={"total_amount": "0.01"}), "bad_signature"),
    "altered_order": (dict(tamper={"out_trade_no": "CPE999"}), "bad_signature"),
    "other_app": (dict(app_id="2021000000009999"), "wrong_app"),
    "other_seller": (dict(seller_id="2088000000009999"), "wrong_seller"),
    "not_paid": (dict(trade_status="WAIT_BUYER_PAY"), "not_success"),
    "closed": (dict(trade_status="TRADE_CLOSED"), "not_success"),
    "partial_refund": (
        dict(extra={"refund_fee": "10.00", "gmt_refund": "2026-01-02 10:00:00"}),
        "not_success",
    ),
    "no_sign": (dict(tamper={"sign": ""}), "malformed"),
    "bad_amount": (dict(extra={"total_amount": "8.001"}), "malformed"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", ALIPAY_BAD)
def test_bad_alipay_notifications_are_rejected_and_change_nothing(
    case, no_network, django_assert_num_queries
):
    kwargs, code = ALIPAY_BAD[case]
    headers, body = signed_alipay_notification("CPE202601010001", 8800, **kwargs)
    adapter = get_gateway("alipay")
    with django_assert_num_queries(0), pytest.raises(NotificationRejected) as err:
        adapter.parse_notification(headers, body)
    assert err.value.code == code
    assert no_network == []


@pytest.mark.django_db
def test_alipay_garbage_is_malformed():
    for body in (b"", b"\xff\xfe", b"no-equals-sign"):
        with pytest.raises(NotificationRejected) as err:
            get_gateway("alipay").parse_notification({}, body)
        assert err.value.code == "malformed"


SIX_MINUTES_AGO = -360
WECHAT_BAD = {
    "bad_signature": (dict(bad_signature=True), "bad_signature"),
    "altered_amount": (dict(altered_amount_fen=1), "bad_signature"),
    "other_mchid": (dict(mchid="1900009999"), "wrong_app"),
    "other_appid": (dict(appid="wx9999999999999999"), "wrong_app"),
    "stale": (dict(timestamp=SIX_MINUTES_AGO), "stale"),
    "from_the_future": (dict(timestamp=-SIX_MINUTES_AGO), "stale"),
    "unknown_serial": (dict(serial="PUB_KEY_ID_0000000000000000009999"), "unknown_serial"),
    "certificate_serial": (dict(serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1"), "unknown_serial"),
    "not_paid": (dict(trade_state="NOTPAY"), "not_success"),
    "refund_event": (dict(event_type="REFUND.SUCCESS"), "not_success"),
    "other_apiv3_key": (dict(apiv3_key="0" * 32), "malformed"),
    **{
        f"missing_{name}": (dict(omit_headers=(name,)), "malformed")
        for name in (
            "Wechatpay-Signature",
            "Wechatpay-Timestamp",
            "Wechatpay-Nonce",
            "Wechatpay-Serial",
            "Wechatpay-Signature-Type",
        )
    },
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", WECHAT_BAD)
def test_bad_wechat_notifications_are_rejected_without_any_call_out(
    case, no_network, django_assert_num_queries
):
    import time

    kwargs, code = dict(WECHAT_BAD[case][0]), WECHAT_BAD[case][1]
    if "timestamp" in kwargs:
        kwargs["timestamp"] = int(time.time()) + kwargs["timestamp"]
    headers, body = signed_wechat_notification("CPE202601010002", 8800, **kwargs)
    adapter = get_gateway("wechat")
    with django_assert_num_queries(0), pytest.raises(NotificationRejected) as err:
        adapter.parse_notification(headers, body)
    assert err.value.code == code
    assert no_network == []  # an unknown serial must not make the SDK fetch certificates


@pytest.mark.django_db
def test_wechat_invalid_body_is_malformed():
    headers, _ = signed_wechat_notification("CPE1", 1)
    for body in (b"\xff", b"not json", b"[]"):
        with pytest.raises(NotificationRejected) as err:
            get_gateway("wechat").parse_notification(headers, body)
        assert err.value.code in ("malformed", "bad_signature")


# -- query -------------------------------------------------------------------------------------
@live
@pytest.mark.parametrize("channel", CHANNELS)
def test_query_unpaid_then_paid(site, channel):
    adapter = get_gateway(GATEWAY[channel])
    assert adapter.query("CPE202601010001").status == "not_found"
    start = adapter.create_payment(payment_request(site, channel))
    requests.get(start.url, timeout=10)  # the buyer arrives at the cashier
    assert adapter.query("CPE202601010001").status == "pending"

    sandbox_pay(pay_url=start.url, outcome="no_notify")  # paid, no notification: the shop must ask
    result = adapter.query("CPE202601010001")
    trade = SandboxTrade.objects.get()
    assert (result.status, result.gateway_txn_id, result.amount_fen) == ("paid", trade.trade_no, 8800)
    assert result.paid_at is not None and abs((result.paid_at - trade.paid_at).total_seconds()) < 1
    assert not trade.deliveries.exists()


@live
def test_query_of_an_expired_trade_is_closed(site):
    adapter = get_gateway("wechat")
    past = timezone.now() - timedelta(minutes=1)
    adapter.create_payment(
        payment_request(site, "wechat_native", expires_at=timezone.now() + timedelta(minutes=5))
    )
    SandboxTrade.objects.update(expires_at=past)
    assert adapter.query("CPE202601010001").status == "closed"


@pytest.mark.django_db
def test_query_when_the_gateway_is_down_raises_gateway_error(settings):
    settings.SITE_URL = "http://127.0.0.1:9"  # discard port: connection refused
    for name in ("alipay", "wechat"):
        with pytest.raises(GatewayError):
            get_gateway(name).query("CPE1")


# -- refund ------------------------------------------------------------------------------------
@live
@pytest.mark.parametrize("gateway", ["alipay", "wechat"])
def test_refund_is_idempotent_by_refund_no(site, gateway):
    channel = "alipay_page" if gateway == "alipay" else "wechat_native"
    adapter = get_gateway(gateway)
    start = adapter.create_payment(payment_request(site, channel))
    sandbox_pay(pay_url=start.url, outcome="no_notify")

    first = adapter.refund(
        order_number="CPE202601010001",
        refund_no="RF0001",
        amount_fen=3000,
        total_fen=8800,
        reason="学员申请退款",
    )
    again = adapter.refund(
        order_number="CPE202601010001",
        refund_no="RF0001",
        amount_fen=3000,
        total_fen=8800,
        reason="学员申请退款",
    )
    assert first.succeeded and again.succeeded
    assert first.gateway_refund_id and again.gateway_refund_id == first.gateway_refund_id
    assert SandboxRefund.objects.count() == 1
    assert SandboxTrade.objects.get().refunded_fen == 3000

    # More than what is left is refused, and changes nothing.
    too_much = adapter.refund(
        order_number="CPE202601010001", refund_no="RF0002", amount_fen=5801, total_fen=8800, reason="再退"
    )
    assert not too_much.succeeded and too_much.detail
    rest = adapter.refund(
        order_number="CPE202601010001", refund_no="RF0003", amount_fen=5800, total_fen=8800, reason="再退"
    )
    assert rest.succeeded
    assert SandboxRefund.objects.count() == 2 and SandboxTrade.objects.get().refunded_fen == 8800


@live
@pytest.mark.parametrize("gateway", ["alipay", "wechat"])
def test_refund_of_an_unpaid_or_unknown_order_fails(site, gateway):
    adapter = get_gateway(gateway)
    channel = "alipay_page" if gateway == "alipay" else "wechat_native"
    start = adapter.create_payment(payment_request(site, channel))
    requests.get(start.url, timeout=10)
    unpaid = adapter.refund(
        order_number="CPE202601010001", refund_no="RF1", amount_fen=100, total_fen=8800, reason="x"
    )
    unknown = adapter.refund(
        order_number="CPE404", refund_no="RF2", amount_fen=100, total_fen=8800, reason="x"
    )
    assert not unpaid.succeeded and not unknown.succeeded
    assert not SandboxRefund.objects.exists()


def test_sandbox_settings_point_at_site_url(settings):
    from cpe.orders.gateways.config import alipay_settings, wechatpay_settings

    settings.SITE_URL = "http://127.0.0.1:8123"
    assert alipay_settings().gateway_url == "http://127.0.0.1:8123/sandbox/alipay/gateway.do"
    assert wechatpay_settings().api_base == "http://127.0.0.1:8123/sandbox/wechat"
    assert wechatpay_settings().platform_public_key_id == keys.WECHAT_PLATFORM_PUBLIC_KEY_ID
