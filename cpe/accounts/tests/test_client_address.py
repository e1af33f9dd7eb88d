"""Sign-in lockout, per-address throttles and sign-in records see the client's address behind the
proxy (cpe/core/net.py), and a client's forged X-Forwarded-For changes none of them."""

import pytest
from django.test import Client
from django.urls import reverse

from cpe.accounts import policy
from cpe.accounts.models import LoginRecord

from .test_views import PASSWORD, _register_post

pytestmark = pytest.mark.django_db
PROXY = "10.0.0.2"  # nginx, as the platform sees it
ALICE, BOB, FORGED = "198.51.100.7", "198.51.100.8", "203.0.113.9"


def _behind_proxy(client_addr, spoof=None):
    """A browser at client_addr reaching the platform through nginx ($proxy_add_x_forwarded_for),
    having sent its own X-Forwarded-For: spoof."""
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{spoof}, {client_addr}" if spoof else client_addr)


def _fail_five_times(c, user):
    for _ in range(5):
        r = c.post(reverse("accounts:login"), {"username": user.id_number, "password": "wrong-pass"})
    return r


def test_lockout_is_per_real_client_behind_the_proxy(settings, register_learner):
    from axes.models import AccessAttempt

    settings.TRUSTED_PROXY_COUNT = 1
    user = register_learner(mobile="13911114444")
    alice = _behind_proxy(ALICE)
    assert _fail_five_times(alice, user).status_code == 429
    # Alice writing another address left of hers does not unlock her.
    r = _behind_proxy(ALICE, spoof=BOB).post(
        reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD}
    )
    assert r.status_code == 429
    # Bob, behind the same proxy, is not locked out by Alice's failures.
    r = _behind_proxy(BOB).post(reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD})
    assert r.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ALICE}  # never the proxy


def test_forged_forwarded_for_does_not_escape_the_lockout_without_a_proxy(settings, register_learner):
    settings.TRUSTED_PROXY_COUNT = 0
    user = register_learner(mobile="13911115555")
    for i in range(5):
        Client(REMOTE_ADDR=ALICE, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").post(
            reverse("accounts:login"), {"username": user.id_number, "password": "wrong-pass"}
        )
    r = Client(REMOTE_ADDR=ALICE, HTTP_X_FORWARDED_FOR=BOB).post(
        reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD}
    )
    assert r.status_code == 429
    # And Bob, whose address Alice wrote in the header, is not locked out.
    r = Client(REMOTE_ADDR=BOB).post(
        reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD}
    )
    assert r.status_code == 302


def _use_up_registrations(c):
    limit = int(policy.REGISTER_RATE_PER_IP.split("/")[0])
    return [_register_post(c, sms_code="000000").status_code for _ in range(limit)]


def test_registration_throttle_counts_each_client_behind_the_proxy(settings, agreement_v1):
    settings.TRUSTED_PROXY_COUNT = 1
    assert 429 not in _use_up_registrations(_behind_proxy(ALICE))
    assert _register_post(_behind_proxy(ALICE), sms_code="000000").status_code == 429
    # A fresh left-hand entry buys Alice no new budget.
    assert _register_post(_behind_proxy(ALICE, spoof=FORGED), sms_code="000000").status_code == 429
    # Bob, behind the same proxy, still has his own.
    assert _register_post(_behind_proxy(BOB), sms_code="000000").status_code != 429


def test_forged_forwarded_for_does_not_reset_a_throttle_without_a_proxy(settings, agreement_v1):
    settings.TRUSTED_PROXY_COUNT = 0
    limit = int(policy.REGISTER_RATE_PER_IP.split("/")[0])
    for i in range(limit):
        _register_post(Client(REMOTE_ADDR=ALICE, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}"), sms_code="000000")
    r = _register_post(Client(REMOTE_ADDR=ALICE, HTTP_X_FORWARDED_FOR="192.0.2.200"), sms_code="000000")
    assert r.status_code == 429
    # The address Alice wrote is not charged for her posts.
    assert _register_post(Client(REMOTE_ADDR="192.0.2.200"), sms_code="000000").status_code != 429


def test_sign_in_record_keeps_the_client_address(settings, register_learner):
    settings.TRUSTED_PROXY_COUNT = 1
    user = register_learner(mobile="13911116666")
    r = _behind_proxy(ALICE, spoof=FORGED).post(
        reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD}
    )
    assert r.status_code == 302
    assert list(LoginRecord.objects.filter(user=user).values_list("ip", flat=True)) == [ALICE]


def test_lockout_counts_an_ipv6_client_as_its_64(settings, register_learner):
    settings.TRUSTED_PROXY_COUNT = 1
    user = register_learner(mobile="13911117777")
    for i in range(5):  # a new address inside the same /64 for every guess
        _behind_proxy(f"2001:db8:1:2::{i + 1:x}").post(
            reverse("accounts:login"), {"username": user.id_number, "password": "wrong-pass"}
        )
    r = _behind_proxy("2001:db8:1:2:abcd::9").post(
        reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD}
    )
    assert r.status_code == 429
    r = _behind_proxy("2001:db8:1:3::1").post(
        reverse("accounts:login"), {"username": user.id_number, "password": PASSWORD}
    )
    assert r.status_code == 302  # the next /64 is somebody else
