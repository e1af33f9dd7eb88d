"""The payer's address sent to WeChat Pay (H5 payments require it) is the client's behind the
proxy (cpe/core/net.py), never the proxy's and never what the client wrote in X-Forwarded-For."""

import pytest
from django.urls import reverse

from cpe.orders.gateways.base import PaymentStart

pytestmark = pytest.mark.django_db
PROXY, CLIENT, FORGED = "10.0.0.2", "198.51.100.7", "203.0.113.9"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 MicroMessenger/8.0"
asked = []


class RecordingGateway:
    """Stands in for WeChat Pay: records what the platform asks (the adapter's own mapping of
    client_ip to scene_info.payer_client_ip is tested in test_gateways)."""

    def create_payment(self, req):
        asked.append(req)
        return PaymentStart(kind="redirect", url="https://wx.example/h5")


@pytest.fixture
def wechat_recorded(settings):
    settings.PAYMENT_GATEWAYS = {**settings.PAYMENT_GATEWAYS, "wechat": f"{__name__}.RecordingGateway"}
    asked.clear()
    return asked


def _buy(client, learner, annual, **extra):
    client.force_login(learner)
    return client.post(
        reverse("orders:buy", args=[annual.code]),
        {"channel": "wechat_h5", "ais_confirmed": "on"},
        HTTP_USER_AGENT=PHONE,
        **extra,
    )


def test_wechat_h5_payer_ip_is_the_client_behind_the_proxy(
    client, settings, learner, annual, wechat_recorded
):
    settings.TRUSTED_PROXY_COUNT = 1
    r = _buy(client, learner, annual, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{FORGED}, {CLIENT}")
    assert r.status_code == 302 and r.url.startswith("https://wx.example/h5")
    assert [q.client_ip for q in wechat_recorded] == [CLIENT]


def test_wechat_h5_payer_ip_ignores_a_forged_header_without_a_proxy(
    client, settings, learner, annual, wechat_recorded
):
    settings.TRUSTED_PROXY_COUNT = 0
    assert _buy(client, learner, annual, REMOTE_ADDR=CLIENT, HTTP_X_FORWARDED_FOR=FORGED).status_code == 302
    assert [q.client_ip for q in wechat_recorded] == [CLIENT]
