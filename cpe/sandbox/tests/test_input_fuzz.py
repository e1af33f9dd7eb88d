"""Generated requests to the embedded sandbox gateway's endpoints (what a merchant, or anyone
who reaches the sandbox, sends): any form or body answers with the gateway's own refusal, never
a server error."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db
FUZZ = hsettings(
    max_examples=60, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
FORM = st.dictionaries(
    st.sampled_from(
        [
            "app_id",
            "method",
            "sign_type",
            "sign",
            "charset",
            "biz_content",
            "timestamp",
            "notify_url",
            "return_url",
            "x",
        ]
    ),
    st.text(max_size=30),
    max_size=8,
)
WECHAT = [
    "/sandbox/wechat/v3/pay/transactions/native",
    "/sandbox/wechat/v3/pay/transactions/h5",
    "/sandbox/wechat/v3/refund/domestic/refunds",
]


@pytest.fixture
def sandbox(settings):
    settings.PAYMENT_SANDBOX = True
    return Client(raise_request_exception=False)


@FUZZ
@given(form=FORM)
@example(form={"app_id": "x", "biz_content": "[[[["})
def test_alipay_gateway_any_form(sandbox, form):
    assert sandbox.post("/sandbox/alipay/gateway.do", form).status_code < 500
    assert sandbox.get("/sandbox/alipay/gateway.do", form).status_code < 500


@FUZZ
@given(
    path=st.sampled_from(WECHAT),
    body=st.binary(max_size=200),
    auth=st.text(max_size=80).filter(lambda t: "\n" not in t and "\r" not in t),
)
@example(path=WECHAT[0], body=b"\xff", auth='WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="a"')
def test_wechat_endpoints_any_body(sandbox, path, body, auth):
    r = sandbox.post(path, body, content_type="application/json", headers={"Authorization": auth})
    assert r.status_code < 500
