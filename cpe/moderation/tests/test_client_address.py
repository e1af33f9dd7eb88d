"""IP bans (rules R12) match the client's address behind the proxy (cpe/core/net.py); a forged
X-Forwarded-For neither escapes a ban nor brings one onto somebody else."""

import pytest
from django.urls import reverse

from cpe.core.models import AuditEvent
from cpe.moderation import services

pytestmark = pytest.mark.django_db
PROXY = "10.0.0.2"
BANNED, OTHER = "203.0.113.9", "198.51.100.7"


@pytest.fixture
def banned(ban_middleware, staff_with):
    services.ban_network(network="203.0.113.0/24", reason="撞库攻击", actor=staff_with())


def test_forged_forwarded_for_changes_nothing_without_a_proxy(client, settings, banned):
    settings.TRUSTED_PROXY_COUNT = 0
    # The banned address claiming to be somebody else is still banned ...
    assert client.get("/courses/", REMOTE_ADDR=BANNED, HTTP_X_FORWARDED_FOR=OTHER).status_code == 403
    # ... and nobody is banned by writing a banned address into the header.
    assert client.get("/courses/", REMOTE_ADDR=OTHER, HTTP_X_FORWARDED_FOR=BANNED).status_code == 200


def test_ban_matches_the_forwarded_client_behind_one_proxy(client, settings, banned):
    settings.TRUSTED_PROXY_COUNT = 1
    r = client.get("/courses/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=BANNED)
    assert r.status_code == 403 and "撞库攻击" in r.content.decode()
    r = client.get("/api/courses", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=BANNED)
    assert r.status_code == 403 and r.json()["code"] == "banned_network"
    # A spoofed entry left of what nginx appended is ignored, both ways.
    assert (
        client.get("/courses/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{OTHER}, {BANNED}").status_code
        == 403
    )
    assert (
        client.get("/courses/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{BANNED}, {OTHER}").status_code
        == 200
    )
    # Garbage where nginx writes: the proxy's own address, not banned, and no error.
    assert (
        client.get("/courses/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{BANNED}, junk").status_code == 200
    )


def test_a_ban_on_the_proxy_address_does_not_ban_everybody_behind_it(
    client, settings, ban_middleware, staff_with
):
    settings.TRUSTED_PROXY_COUNT = 1
    services.ban_network(network="10.0.0.0/24", reason="x", actor=staff_with())
    assert client.get("/courses/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=OTHER).status_code == 200


def test_staff_decisions_are_audited_with_the_staff_members_address(client, settings, staff_with):
    settings.TRUSTED_PROXY_COUNT = 1
    client.force_login(staff_with("moderation.view_ban", "moderation.add_ban"))
    r = client.post(
        reverse("admin:moderation_ban_add"),
        {"network": "192.0.2.0/24", "reason": "恶意注册", "ends_at": ""},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{BANNED}, {OTHER}",
    )
    assert r.status_code == 302
    assert list(AuditEvent.objects.filter(event_type="moderation.banned").values_list("ip", flat=True)) == [
        OTHER
    ]
