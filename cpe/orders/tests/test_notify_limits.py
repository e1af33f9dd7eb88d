"""The notify URLs are open to anybody: what one request may cost is bounded (attacker review).
Oversized bodies get 413 unread and leave no row; a rejected body is kept only as an excerpt
plus its digest; headers are kept from a short list; each client address is throttled."""

import hashlib
import io

import pytest
from django.urls import reverse

from cpe.learning.models import Enrolment
from cpe.orders import policy, services
from cpe.orders.models import PaymentNotification
from cpe.orders.states import OrderStatus
from cpe.sandbox import testing as sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(learner, annual):
    return services.order_create(user=learner, product_code=annual.code)


def _state(order):
    order.refresh_from_db()
    return order.status, order.paid_at, order.gateway_txn_id, Enrolment.objects.filter(order=order).count()


def _post(client, gateway, body, content_type="application/x-www-form-urlencoded", **extra):
    return client.generic(
        "POST", reverse("orders:notify", args=[gateway]), body, content_type=content_type, **extra
    )


@pytest.mark.parametrize("gateway", ["alipay", "wechat"])
def test_oversized_body_refused_with_413_and_nothing_stored(client, pending, gateway):
    before = _state(pending)
    body = b"a=" + b"x" * policy.NOTIFY_MAX_BODY_BYTES
    r = _post(client, gateway, body)
    assert r.status_code == 413
    assert "过大" in r.content.decode()
    assert PaymentNotification.objects.count() == 0
    assert _state(pending) == before


def test_oversized_body_with_a_small_declared_length_is_read_no_further(rf, pending):
    """A body longer than its Content-Length is cut there (WSGI); one without a length is read
    to the limit + 1 byte at most and refused."""
    from cpe.orders.views import notify

    body = b"a=" + b"x" * (policy.NOTIFY_MAX_BODY_BYTES * 4)
    request = rf.generic(
        "POST",
        reverse("orders:notify", args=["alipay"]),
        body,
        content_type="application/x-www-form-urlencoded",
    )
    request.META.pop("CONTENT_LENGTH")
    request._stream = io.BytesIO(body)  # a chunked body: no declared length
    request._read_started = False
    r = notify(request, "alipay")
    assert r.status_code == 413
    assert PaymentNotification.objects.count() == 0


def test_body_at_the_limit_is_processed(client, pending):
    body = b"a=" + b"x" * (policy.NOTIFY_MAX_BODY_BYTES - 2)
    r = _post(client, "alipay", body)
    assert r.status_code == 200 and r.content == b"fail"  # Alipay's protocol answer
    assert PaymentNotification.objects.get().outcome == "rejected:malformed"


def test_rejected_body_is_kept_as_an_excerpt_and_digest_only(client, pending):
    headers, body = sandbox.signed_alipay_notification(pending.number, pending.amount_fen, bad_signature=True)
    body = body + b"&padding=" + b"p" * 20_000  # under the limit, far over the excerpt
    extra = {"HTTP_X_JUNK": "j" * 4000, "HTTP_USER_AGENT": "u" * 4000}
    r = _post(client, "alipay", body, **extra)
    assert r.content == b"fail"
    stored = PaymentNotification.objects.get()
    assert stored.outcome == "rejected:bad_signature"
    assert len(stored.body.encode()) <= policy.NOTIFY_UNVERIFIED_EXCERPT_BYTES
    assert body.decode().startswith(stored.body)
    assert f"sha256={hashlib.sha256(body).hexdigest()} bytes={len(body)}" in stored.detail
    assert "X-Junk" not in stored.headers
    assert len(stored.headers["User-Agent"]) == policy.NOTIFY_HEADER_VALUE_CHARS
    assert _state(pending)[0] == OrderStatus.PENDING


def test_verified_body_is_kept_whole(client, pending):
    headers, body = sandbox.signed_alipay_notification(pending.number, pending.amount_fen)
    r = _post(client, "alipay", body)
    assert r.content == b"success"
    stored = PaymentNotification.objects.get()
    assert stored.outcome == "activated" and stored.body == body.decode()
    assert _state(pending)[0] == OrderStatus.PAID


def test_throttled_per_client_address(client, pending, settings):
    import time

    import time_machine

    limit = int(policy.NOTIFY_RATE_PER_IP.split("/")[0])
    # The throttle counts in fixed windows: stop the clock so the posts cannot straddle two.
    with time_machine.travel(time.time(), tick=False):
        for _ in range(limit):
            assert _post(client, "alipay", b"a=1", REMOTE_ADDR="203.0.113.9").status_code == 200
        r = _post(client, "alipay", b"a=1", REMOTE_ADDR="203.0.113.9")
    assert r.status_code == 429
    assert PaymentNotification.objects.count() == limit  # the refused one left no row
    # Another address (a gateway's) is not affected, and its notification still activates.
    headers, body = sandbox.signed_alipay_notification(pending.number, pending.amount_fen)
    r = _post(client, "alipay", body, REMOTE_ADDR="198.51.100.20")
    assert r.content == b"success" and _state(pending)[0] == OrderStatus.PAID


def test_service_refuses_an_oversized_body_and_stores_nothing(pending):
    from cpe.orders.errors import OrderError

    with pytest.raises(OrderError):
        services.notification_receive(
            gateway_name="alipay", headers={}, body=b"x" * (policy.NOTIFY_MAX_BODY_BYTES + 1)
        )
    assert PaymentNotification.objects.count() == 0


@pytest.mark.parametrize(
    "headers,kept",
    [
        (
            {"Wechatpay-Serial": "S", "wechatpay-nonce": "n", "Cookie": "c", "X-Forwarded-For": "1.2.3.4"},
            {"Wechatpay-Serial": "S", "Wechatpay-Nonce": "n"},
        ),
        ({}, {}),
    ],
)
def test_kept_headers_policy(headers, kept):
    assert policy.notification_kept_headers(headers) == kept


@pytest.mark.parametrize(
    "declared,received,refused",
    [
        (None, 0, False),
        (policy.NOTIFY_MAX_BODY_BYTES, 0, False),
        (policy.NOTIFY_MAX_BODY_BYTES + 1, 0, True),
        (None, policy.NOTIFY_MAX_BODY_BYTES + 1, True),
        (10, policy.NOTIFY_MAX_BODY_BYTES, False),
    ],
)
def test_body_too_large_policy(declared, received, refused):
    assert policy.notification_body_too_large(declared, received) is refused
