"""Generated payment notification bodies (outside input: anyone can POST to /pay/notify/...).
Whatever the bytes, headers or (for WeChat Pay) the decrypted content, the adapters' only
refusal is NotificationRejected; a correctly signed Alipay notification with any total_amount
text parses to exactly yuan_to_fen of it or is refused as malformed."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cpe.core.money import yuan_to_fen
from cpe.orders.gateways import get_gateway
from cpe.orders.gateways.base import NotificationRejected, PaymentNotice
from cpe.sandbox.testing import signed_alipay_notification, signed_wechat_notification

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=100, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "Wechatpay-Signature",
            "Wechatpay-Timestamp",
            "Wechatpay-Nonce",
            "Wechatpay-Serial",
            "Wechatpay-Signature-Type",
            "X",
        ]
    ),
    st.text(max_size=20),
    max_size=6,
)


def _parse_or_reject(gateway, headers, body):
    try:
        return gateway.parse_notification(headers, body)
    except NotificationRejected as exc:
        assert exc.code in {
            "bad_signature",
            "wrong_app",
            "wrong_seller",
            "stale",
            "unknown_serial",
            "malformed",
            "not_success",
        }
        return None


@FUZZ
@given(body=st.binary(max_size=400) | st.text(max_size=200).map(str.encode), headers=HEADERS)
@example(body=b"sign=abc&sign_type=RSA2&total_amount=Infinity", headers={})
@example(body=b"%ff%fe=1&sign=x", headers={})
def test_alipay_any_body_is_refused_cleanly(body, headers):
    assert _parse_or_reject(get_gateway("alipay"), headers, body) is None


@FUZZ
@given(amount=st.text(max_size=24) | st.decimals(allow_nan=True).map(str))
@example(amount="Infinity")
@example(amount="sNaN")
@example(amount="1e999999")
@example(amount="88.00")
def test_alipay_signed_amount_text(amount):
    headers, body = signed_alipay_notification("CPE202601010001", 8800, extra={"total_amount": amount})
    notice = _parse_or_reject(get_gateway("alipay"), headers, body)
    if notice is not None:
        assert isinstance(notice, PaymentNotice) and notice.amount_fen == yuan_to_fen(amount)


@FUZZ
@given(body=st.binary(max_size=400), headers=HEADERS)
def test_wechat_any_body_and_headers_are_refused_cleanly(body, headers):
    assert _parse_or_reject(get_gateway("wechat"), headers, body) is None


@FUZZ
@given(body=st.binary(max_size=400) | JSON.map(lambda d: __import__("json").dumps(d).encode()))
def test_wechat_valid_headers_any_body(body):
    headers, _ = signed_wechat_notification("CPE202601010002", 100)
    assert _parse_or_reject(get_gateway("wechat"), headers, body) is None


@FUZZ
@given(
    resource=st.dictionaries(
        st.sampled_from(
            ["mchid", "appid", "trade_state", "amount", "out_trade_no", "transaction_id", "success_time"]
        ),
        JSON,
        max_size=7,
    ),
    amount=JSON,
)
@example(resource={}, amount="12")
@example(resource={}, amount=[1])
def test_wechat_any_decrypted_content(monkeypatch, resource, amount):
    # What the SDK returns once signature and decryption pass: only WeChat Pay could send it, but
    # the adapter still reads it as outside input.
    gateway = get_gateway("wechat")
    headers, body = signed_wechat_notification("CPE202601010002", 100)
    content = {
        "id": "EV-1",
        "event_type": "TRANSACTION.SUCCESS",
        "resource": {
            "mchid": gateway.cfg.mchid,
            "appid": gateway.cfg.appid,
            "trade_state": "SUCCESS",
            "out_trade_no": "CPE1",
            "transaction_id": "42",
            **resource,
            "amount": amount,
        },
    }
    monkeypatch.setattr(gateway.client, "callback", lambda headers, body: content)
    notice = _parse_or_reject(gateway, headers, body)
    if notice is not None:
        assert type(notice.amount_fen) is int
        assert isinstance(notice.order_number, str) and isinstance(notice.gateway_txn_id, str)


@pytest.mark.parametrize("amount", ["12", [1], 5])
def test_wechat_amount_not_an_object_is_malformed(monkeypatch, amount):
    # Regression (found by the test above): "amount": "12" raised AttributeError ('str' object has
    # no attribute 'get') out of parse_notification instead of a refusal.
    gateway = get_gateway("wechat")
    headers, body = signed_wechat_notification("CPE202601010002", 100)
    content = {
        "id": "EV-1",
        "event_type": "TRANSACTION.SUCCESS",
        "resource": {
            "mchid": gateway.cfg.mchid,
            "appid": gateway.cfg.appid,
            "trade_state": "SUCCESS",
            "out_trade_no": "CPE1",
            "transaction_id": "42",
            "amount": amount,
        },
    }
    monkeypatch.setattr(gateway.client, "callback", lambda headers, body: content)
    with pytest.raises(NotificationRejected) as exc:
        gateway.parse_notification(headers, body)
    assert exc.value.code == "malformed"
