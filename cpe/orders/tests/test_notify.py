"""The notify endpoints as the gateways call them, and whole payment/refund flows against
the embedded sandbox gateway (the real adapters, real signatures)."""

import threading

import pytest
from django.db import connection
from django.urls import reverse

from cpe.learning.models import Enrolment
from cpe.orders import services
from cpe.orders.models import PaymentNotification, Refund
from cpe.orders.states import Channel, OrderStatus, RefundStatus
from cpe.sandbox import testing as sandbox

pytestmark = pytest.mark.django_db


def _post(client, gateway, headers, body):
    extra = {
        "HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items() if k.lower() != "content-type"
    }
    return client.generic(
        "POST",
        reverse("orders:notify", args=[gateway]),
        body,
        content_type=headers.get("Content-Type", "application/json"),
        **extra,
    )


def _state(order):
    order.refresh_from_db()
    return order.status, order.paid_at, order.gateway_txn_id, Enrolment.objects.filter(order=order).count()


@pytest.fixture
def pending(learner, annual):
    return services.order_create(user=learner, product_code=annual.code)


BAD_ALIPAY = [
    ({"bad_signature": True}, "rejected:bad_signature"),
    ({"tamper": {"total_amount": "0.01"}}, "rejected:bad_signature"),
    ({"app_id": "2021000000000000"}, "rejected:wrong_app"),
    ({"seller_id": "2088000000000000"}, "rejected:wrong_seller"),
]


@pytest.mark.parametrize("kw,outcome", BAD_ALIPAY)
def test_bad_alipay_notifications_change_nothing(client, pending, kw, outcome):
    before = _state(pending)
    headers, body = sandbox.signed_alipay_notification(pending.number, pending.amount_fen, **kw)
    r = _post(client, "alipay", headers, body)
    assert r.status_code == 200 and r.content == b"fail"
    assert _state(pending) == before
    stored = PaymentNotification.objects.get()
    assert stored.outcome == outcome and stored.body  # every raw notification is kept


def test_alipay_amount_other_than_the_order_refused(client, pending):
    headers, body = sandbox.signed_alipay_notification(pending.number, pending.amount_fen - 1)
    assert _post(client, "alipay", headers, body).content == b"fail"
    assert _state(pending)[0] == OrderStatus.PENDING
    assert PaymentNotification.objects.get().outcome == "rejected:amount_mismatch"


def test_unknown_order_refused(client, pending):
    headers, body = sandbox.signed_alipay_notification("CPE00000000000000000000", pending.amount_fen)
    assert _post(client, "alipay", headers, body).content == b"fail"
    assert PaymentNotification.objects.get().outcome == "rejected:unknown_order"


BAD_WECHAT = [
    ({"timestamp_age": 360}, "rejected:stale"),
    ({"serial": "PUB_KEY_ID_9999999999999999999999"}, "rejected:unknown_serial"),
    ({"bad_signature": True}, "rejected:bad_signature"),
    ({"altered_amount_fen": 1}, "rejected:bad_signature"),
    ({"mchid": "1900000000"}, "rejected:wrong_app"),
    ({"omit_headers": ("Wechatpay-Signature",)}, "rejected:malformed"),
]


@pytest.mark.parametrize("kw,outcome", BAD_WECHAT)
def test_bad_wechat_notifications_change_nothing(client, pending, kw, outcome, monkeypatch):
    import socket
    import time

    if "timestamp_age" in kw:
        kw = {"timestamp": int(time.time()) - kw.pop("timestamp_age")}
    headers, body = sandbox.signed_wechat_notification(pending.number, pending.amount_fen, **kw)
    before = _state(pending)

    def no_network(*a, **k):
        raise AssertionError("the adapter tried to connect out")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    r = _post(client, "wechat", headers, body)
    assert r.status_code >= 400
    assert _state(pending) == before
    assert PaymentNotification.objects.get().outcome.startswith(outcome)


def test_alipay_replay_of_a_processed_notification(client, pending):
    headers, body = sandbox.signed_alipay_notification(pending.number, pending.amount_fen)
    assert _post(client, "alipay", headers, body).content == b"success"
    after_first = _state(pending)
    assert after_first[0] == OrderStatus.PAID and after_first[3] == 1
    assert _post(client, "alipay", headers, body).content == b"success"  # answered, so it stops
    assert _state(pending) == after_first
    assert list(PaymentNotification.objects.order_by("id").values_list("outcome", flat=True)) == [
        "activated",
        "duplicate",
    ]


def test_wechat_notification_activates(client, pending):
    headers, body = sandbox.signed_wechat_notification(pending.number, pending.amount_fen)
    assert _post(client, "wechat", headers, body).status_code in (200, 204)
    assert _state(pending)[0] == OrderStatus.PAID


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("channel", [Channel.ALIPAY_PAGE, Channel.WECHAT_NATIVE])
def test_pay_and_refund_through_the_sandbox(
    live_server, settings, learner, annual, django_user_model, channel
):
    settings.SITE_URL = live_server.url
    order = services.order_create(user=learner, product_code=annual.code)
    start = services.payment_start(
        order=order,
        channel=channel,
        notify_url=live_server.url + reverse("orders:notify", args=[order.gateway or channel.split("_")[0]]),
        return_url=live_server.url + "/done/",
    )
    sandbox.sandbox_pay(pay_url=start.url)
    assert _state(order)[0] == OrderStatus.PAID
    fin = django_user_model.objects.create_user("fin", "x", is_staff=True, name="财务")
    refund = services.refund_request(user=learner, order_number=order.number, reason="重复购买")
    refund = services.refund_approve(refund_id=refund.pk, reviewer=fin)
    assert refund.status == RefundStatus.SUCCEEDED
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert Enrolment.objects.get(order=order).status == "closed"
    sandbox.stop_retries()


@pytest.mark.django_db(transaction=True)
def test_return_page_queries_when_no_notification_came(live_server, settings, learner, annual):
    settings.SITE_URL = live_server.url
    order = services.order_create(user=learner, product_code=annual.code)
    start = services.payment_start(
        order=order,
        channel=Channel.ALIPAY_PAGE,
        notify_url=live_server.url + reverse("orders:notify", args=["alipay"]),
        return_url=live_server.url + "/done/",
    )
    sandbox.sandbox_pay(pay_url=start.url, outcome="no_notify")
    assert _state(order)[0] == OrderStatus.PENDING
    assert services.order_sync(order=order).status == OrderStatus.PAID
    assert PaymentNotification.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_refund_approvals_pay_once(
    live_server, settings, learner, annual, django_user_model
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (CI runs this on PostgreSQL)")
    settings.SITE_URL = live_server.url
    order = services.order_create(user=learner, product_code=annual.code)
    start = services.payment_start(
        order=order,
        channel=Channel.WECHAT_NATIVE,
        notify_url=live_server.url + reverse("orders:notify", args=["wechat"]),
        return_url=live_server.url + "/done/",
    )
    sandbox.sandbox_pay(pay_url=start.url)
    refund = services.refund_request(user=learner, order_number=order.number, reason="重复购买")
    fin = django_user_model.objects.create_user("fin", "x", is_staff=True, name="财务")
    results, barrier = [], threading.Barrier(20)

    def approve():
        barrier.wait()
        try:
            results.append(services.refund_approve(refund_id=refund.pk, reviewer=fin).status)
        except Exception as exc:  # the losers are refused
            results.append(getattr(exc, "code", repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(RefundStatus.SUCCEEDED) == 1 and results.count("already_decided") == 19
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.SUCCEEDED
    # The sandbox gateway recorded exactly one refund for the order.
    trade = sandbox.sandbox_trade(order.number, "wechat")
    assert trade.refunds.count() == 1
    sandbox.stop_retries()
