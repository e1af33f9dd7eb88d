"""The embedded sandbox gateway: the cashier's three buttons over real HTTP, signed
notifications to the merchant and their retries, its own refusals, keys and the deploy check."""

import os
import re
import stat
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qsl, urlparse

import pytest
import requests
from django.core.checks import run_checks
from django.utils import timezone

from cpe.orders.gateways import get_gateway
from cpe.orders.gateways.base import PaymentRequest
from cpe.sandbox import keys, protocol, services
from cpe.sandbox.models import SandboxDelivery, SandboxTrade
from cpe.sandbox.testing import NotifyCatcher, sandbox_pay, sandbox_trade, stop_retries, wait_retries

live = pytest.mark.django_db(transaction=True)
GATEWAY = {"alipay_page": "alipay", "alipay_wap": "alipay", "wechat_native": "wechat", "wechat_h5": "wechat"}


@pytest.fixture
def site(settings, live_server):
    settings.SITE_URL = live_server.url
    yield live_server.url
    stop_retries()


@pytest.fixture
def merchant():
    with NotifyCatcher() as catcher:
        yield catcher


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(services, "RETRY_DELAYS", (0.05, 0.05, 0.05))


def start_payment(site, merchant, channel, number="CPE202601010001", amount_fen=8800, **extra):
    req = PaymentRequest(
        order_number=number,
        amount_fen=amount_fen,
        subject="2026年度继续教育",
        channel=channel,
        notify_url=merchant.url(GATEWAY[channel]),
        return_url=f"{site}/orders/{number}/return/",
        **extra,
    )
    return get_gateway(GATEWAY[channel]).create_payment(req)


def press(session: requests.Session, url: str, outcome: str) -> requests.Response:
    """Open the cashier as a browser does, then press a button (no redirect followed)."""
    page = session.get(url, timeout=10)
    assert page.status_code == 200, page.text[:300]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    redirect_url = re.search(r'name="redirect_url" value="([^"]*)"', page.text).group(1)
    return session.post(
        page.url,
        data={
            "csrfmiddlewaretoken": token,
            "outcome": outcome,
            "redirect_url": redirect_url.replace("&amp;", "&"),
        },
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=20,
    )


# -- the buttons -------------------------------------------------------------------------------
@live
@pytest.mark.parametrize("channel", ["alipay_page", "alipay_wap"])
def test_alipay_success_notifies_before_returning_to_the_shop(site, merchant, channel):
    start = start_payment(site, merchant, channel)
    resp = press(requests.Session(), start.url, "success")

    # The first notification was delivered and acknowledged before the browser is sent back.
    assert len(merchant.received) == 1
    notice = merchant.received[0]["notice"]
    trade = SandboxTrade.objects.get()
    assert (notice.order_number, notice.amount_fen, notice.gateway_txn_id) == (
        "CPE202601010001",
        8800,
        trade.trade_no,
    )
    assert notice.notify_id == trade.notify_id
    assert list(trade.deliveries.values_list("attempt", "ok", "answer")) == [(1, True, "success")]
    assert trade.status == "paid" and trade.paid_at is not None

    # Back to return_url with Alipay's signed synchronous-return parameters.
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(f"{site}/orders/CPE202601010001/return/?")
    params = dict(parse_qsl(urlparse(location).query))
    assert params["out_trade_no"] == "CPE202601010001" and params["total_amount"] == "88.00"
    sign = params.pop("sign")
    params.pop("sign_type")
    assert get_gateway("alipay").client.verify(params, sign)


@live
def test_wechat_h5_success_notifies_then_follows_redirect_url(site, merchant):
    start = start_payment(site, merchant, "wechat_h5")
    resp = press(requests.Session(), start.url, "success")
    assert resp.status_code == 302 and resp.headers["Location"] == f"{site}/orders/CPE202601010001/return/"
    [record] = merchant.received
    assert record["notice"].amount_fen == 8800 and record["notice"].notify_id.startswith("EV-")
    assert record["headers"]["Wechatpay-Serial"] == keys.WECHAT_PLATFORM_PUBLIC_KEY_ID
    assert list(SandboxDelivery.objects.values_list("status_code", "ok")) == [(204, True)]


@live
def test_wechat_native_success_shows_a_result_page(site, merchant):
    start = start_payment(site, merchant, "wechat_native")
    resp = press(requests.Session(), start.url, "success")
    assert resp.status_code == 200 and "支付成功" in resp.text
    assert merchant.received[0]["notice"].order_number == "CPE202601010001"


@live
@pytest.mark.parametrize("channel", ["alipay_page", "wechat_h5"])
def test_fail_pays_nothing_and_goes_back(site, merchant, channel):
    start = start_payment(site, merchant, channel)
    resp = press(requests.Session(), start.url, "fail")
    assert resp.status_code == 302 and resp.headers["Location"] == f"{site}/orders/CPE202601010001/return/"
    assert SandboxTrade.objects.get().status == "wait"
    assert merchant.received == [] and not SandboxDelivery.objects.exists()
    assert get_gateway(GATEWAY[channel]).query("CPE202601010001").status == "pending"


@live
@pytest.mark.parametrize("channel", ["alipay_wap", "wechat_native"])
def test_pay_without_notification_is_found_by_query(site, merchant, channel):
    start = start_payment(site, merchant, channel)
    press(requests.Session(), start.url, "no_notify")
    assert merchant.received == [] and not SandboxDelivery.objects.exists()
    assert get_gateway(GATEWAY[channel]).query("CPE202601010001").status == "paid"


@live
def test_a_paid_trade_is_not_paid_or_notified_twice(site, merchant):
    start = start_payment(site, merchant, "alipay_page")
    session = requests.Session()
    press(session, start.url, "success")
    page = session.get(start.url, timeout=10)  # back to the cashier: nothing to pay any more
    assert page.status_code == 400 and "该订单已支付" in page.text
    done = sandbox_pay("CPE202601010001")
    assert done.delivery is None and len(merchant.received) == 1


@live
def test_wechat_refuses_to_reopen_a_paid_order(site, merchant):
    from cpe.orders.gateways.base import GatewayError

    start = start_payment(site, merchant, "wechat_native")
    sandbox_pay(pay_url=start.url)
    with pytest.raises(GatewayError, match="ORDERPAID"):
        start_payment(site, merchant, "wechat_native")


@live
def test_an_expired_trade_cannot_be_paid(site, merchant):
    start = start_payment(site, merchant, "wechat_native", expires_at=timezone.now() + timedelta(minutes=10))
    SandboxTrade.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    page = requests.get(start.url, timeout=10)
    assert "交易已关闭" in page.text and "支付成功" not in page.text
    with pytest.raises(services.Refused):
        sandbox_pay(pay_url=start.url)


@live
def test_redirect_url_to_another_site_is_ignored(site, merchant):
    start = start_payment(site, merchant, "wechat_h5")
    evil = start.url.split("redirect_url=")[0] + "redirect_url=https%3A%2F%2Fevil.example%2F"
    resp = press(requests.Session(), evil, "fail")
    assert resp.status_code == 200 and "evil.example" not in resp.headers.get("Location", "")


# -- retries -----------------------------------------------------------------------------------
@live
@pytest.mark.parametrize(
    "channel,refusal", [("alipay_page", (200, "fail")), ("wechat_native", (500, "error"))]
)
def test_unacknowledged_notification_is_retried_until_acknowledged(site, fast_retries, channel, refusal):
    with NotifyCatcher(answers=[refusal]) as merchant:
        start = start_payment(site, merchant, channel)
        done = sandbox_pay(pay_url=start.url)
        assert done.delivery.attempt == 1 and not done.delivery.ok
        wait_retries(10)
    attempts = list(SandboxDelivery.objects.order_by("attempt").values_list("attempt", "ok"))
    assert attempts == [(1, False), (2, True)]
    first, second = merchant.received
    assert first["notice"].notify_id == second["notice"].notify_id  # the same notification again


@live
def test_retries_stop_after_the_last_delay(site, fast_retries):
    with NotifyCatcher(answers=[(503, "busy")] * 10) as merchant:
        start = start_payment(site, merchant, "wechat_h5")
        sandbox_pay(pay_url=start.url)
        wait_retries(10)
    assert SandboxDelivery.objects.count() == 1 + len(services.RETRY_DELAYS)
    assert not SandboxDelivery.objects.filter(ok=True).exists()


@live
def test_unreachable_merchant_is_recorded_and_retried(site, merchant, monkeypatch):
    monkeypatch.setattr(services, "RETRY_DELAYS", (30,))
    start = start_payment(site, merchant, "alipay_page")
    trade = sandbox_pay(pay_url=start.url, outcome="fail").trade
    SandboxTrade.objects.filter(pk=trade.pk).update(notify_url="http://127.0.0.1:9/notify/")  # nobody listens
    began = time.monotonic()
    done = sandbox_pay("CPE202601010001")
    assert done.delivery.status_code is None and "Connection" in done.delivery.error
    assert any(t.name == f"sandbox-notify-{trade.pk}" for t in threading.enumerate())  # retry pending
    stop_retries()
    assert time.monotonic() - began < 10
    assert SandboxDelivery.objects.count() == 1


# -- in-process transport for tests without a live server ---------------------------------------
@pytest.mark.django_db
@pytest.mark.urls("cpe.sandbox.tests.urls")
def test_sandbox_pay_through_the_test_client(settings):
    from cpe.sandbox.tests import urls

    settings.SITE_URL = "http://testserver"
    urls.received.clear()
    req = PaymentRequest(
        order_number="CPE7",
        amount_fen=100,
        subject="课程",
        channel="alipay_page",
        notify_url="http://testserver/test-notify/alipay/",
        return_url="http://testserver/r/",
    )
    start = get_gateway("alipay").create_payment(req)  # builds a URL only: no HTTP needed
    done = sandbox_pay(pay_url=start.url, via="client")
    assert done.delivery.ok and done.delivery.answer == "success"
    assert urls.received[0].order_number == "CPE7" and urls.received[0].amount_fen == 100
    assert sandbox_trade("CPE7").status == "paid"


# -- the sandbox's own checks --------------------------------------------------------------------
@live
def test_wechat_api_refuses_unsigned_or_stale_requests(site):
    base = f"{site}/sandbox/wechat/v3/pay/transactions/native"
    resp = requests.post(base, json={"mchid": keys.WECHAT_MCHID}, timeout=10)
    assert resp.status_code == 401 and resp.json()["code"] == "SIGN_ERROR"

    k = keys.sandbox_keys()
    old = str(int(time.time()) - 600)
    body = '{"mchid":"%s"}' % keys.WECHAT_MCHID
    signature = protocol.rsa_sign(
        k.wechat_merchant_private_pem,
        protocol.wechat_request_message("POST", "/v3/pay/transactions/native", old, "N", body),
    )
    auth = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{keys.WECHAT_MCHID}",nonce_str="N",signature="{signature}",'
        f'timestamp="{old}",serial_no="{k.wechat_merchant_serial}"'
    )
    resp = requests.post(
        base, data=body, headers={"Authorization": auth, "Content-Type": "application/json"}, timeout=10
    )
    assert resp.status_code == 401 and "过期" in resp.json()["message"]


@live
def test_alipay_gateway_refuses_unknown_methods_and_apps(site):
    client = get_gateway("alipay").client
    url = f"{site}/sandbox/alipay/gateway.do?" + client.sign_data(client.build_body("alipay.trade.pay", {}))
    assert "isv.invalid-method" in requests.get(url, timeout=10).text
    other = client.sign_data(
        {**client.build_body("alipay.trade.query", {"out_trade_no": "X"}), "app_id": "1"}
    )
    assert "isv.invalid-app-id" in requests.get(f"{site}/sandbox/alipay/gateway.do?{other}", timeout=10).text


@live
def test_index_lists_trades(site, merchant):
    start_payment(site, merchant, "wechat_native", number="CPE9")
    page = requests.get(f"{site}/sandbox/", timeout=10)
    assert page.status_code == 200 and "CPE9" in page.text and "88.00" in page.text


@pytest.mark.django_db
def test_sandbox_is_not_served_when_off(client, settings):
    settings.PAYMENT_SANDBOX = False
    assert client.get("/sandbox/").status_code == 404
    assert client.get("/sandbox/alipay/gateway.do").status_code == 404
    assert client.post("/sandbox/wechat/v3/pay/transactions/native").status_code == 404


def test_deploy_check_refuses_the_sandbox_without_debug(settings):
    settings.DEBUG, settings.PAYMENT_SANDBOX = False, True
    assert "cpe.E002" in [e.id for e in run_checks(include_deployment_checks=True)]
    settings.DEBUG = True
    assert "cpe.E002" not in [e.id for e in run_checks(include_deployment_checks=True)]
    settings.DEBUG, settings.PAYMENT_SANDBOX = False, False
    assert "cpe.E002" not in [e.id for e in run_checks(include_deployment_checks=True)]


def test_keys_are_generated_once_private_and_pkcs8(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = keys.sandbox_keys()
    folder = tmp_path / "keys" / "sandbox"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "alipay_app_private.pem",
        "alipay_gateway_private.pem",
        "aliyun_sms.key",
        "wechat_apiv3.key",
        "wechat_merchant_private.pem",
        "wechat_platform_private.pem",
    ]
    for path in folder.iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert first.wechat_merchant_private_pem.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert len(first.wechat_apiv3_key) == 32
    keys._cache.clear()
    assert keys.sandbox_keys() == first  # read back, not regenerated
    keys._create_once(folder / "wechat_apiv3.key", b"x" * 32)  # a losing concurrent writer
    assert (folder / "wechat_apiv3.key").read_text() == first.wechat_apiv3_key
    keys._cache.clear()
