"""The heartbeat's front door (config/hotpath_wsgi.py) and the play API see the client's address
behind the proxy (cpe/core/net.py): the IP ban matches it, the play session records it, and a
client's forged X-Forwarded-For changes neither. Needs Redis, as the hot path does."""

import io
import json
from datetime import timedelta

import pytest

from cpe.learning import hotpath
from cpe.learning.models import PlaySession, SuspiciousEvent

from .test_hotpath import REDIS_URL, WEB_SESSION, _start

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not REDIS_URL, reason="the hot path needs Redis: set REDIS_URL (CI does)"),
]
PROXY = "10.0.0.2"
BANNED, CLIENT = "203.0.113.9", "198.51.100.7"


@pytest.fixture
def door(hot, settings):
    """The WSGI door in front of a stand-in Django, as the tests of the door run it."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    from config.hotpath_wsgi import wrap
    from cpe.moderation.selectors import bans_known, forget_bans

    settings.ALLOWED_HOSTS = ["testserver"]
    bans_known()
    request_finished.disconnect(close_old_connections)  # the test's transaction must survive
    yield wrap(lambda environ, start_response: start_response("418 I'm a teapot", []) or [b""])
    request_finished.connect(close_old_connections)
    forget_bans()  # the ban rolled back with the test must not stay in this process's memo


def _beat(app, session, seq, start, position, remote, xff=None):
    raw = json.dumps({"seq": seq, "start": start, "position": position}).encode()
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/api/learning/sessions/{session.key}/heartbeat",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": remote,
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "testserver",
        "HTTP_X_PLAY_TOKEN": hotpath.play_token(session.key),
        "HTTP_COOKIE": f"sessionid={WEB_SESSION}",
    }  # the web session the player was started in
    if xff is not None:
        env["HTTP_X_FORWARDED_FOR"] = xff
    got = {}
    out = b"".join(app(env, lambda status, headers: got.update(status=status)))
    return int(got["status"][:3]), json.loads(out)


@pytest.fixture
def ban(django_user_model):
    from cpe.moderation import services

    operator = django_user_model.objects.create_user(
        username="op", password="Staff-pass-2026", is_staff=True, name="运营"
    )
    services.ban_network(network="203.0.113.0/24", reason="刷课", actor=operator)


def test_door_ban_matches_the_forwarded_client(door, ban, settings, learner, chapter, enrolment, now):
    settings.TRUSTED_PROXY_COUNT = 1
    s = _start(learner, chapter, now - timedelta(seconds=40), ip=CLIENT)
    status, body = _beat(door, s, 1, 0, 30, PROXY, f"{CLIENT}, {BANNED}")  # spoofed left entry ignored
    assert status == 403 and body["code"] == "banned_network"
    status, body = _beat(door, s, 1, 0, 30, PROXY, f"{BANNED}, {CLIENT}")
    assert status == 200 and body["credited"] == 30  # the refused report counted nothing (same seq)
    # The same client through the same proxy is the same address: no "address changed" flag.
    assert not SuspiciousEvent.objects.filter(session=s, kind="ip_change").exists()


def test_door_ignores_a_forged_forwarded_for_without_a_proxy(
    door, ban, settings, learner, chapter, enrolment, now
):
    settings.TRUSTED_PROXY_COUNT = 0
    s = _start(learner, chapter, now - timedelta(seconds=40), ip=CLIENT)
    status, body = _beat(door, s, 1, 0, 30, BANNED, CLIENT)
    assert status == 403 and body["code"] == "banned_network"
    status, body = _beat(door, s, 1, 0, 30, CLIENT, BANNED)
    assert status == 200 and body["credited"] == 30


def test_play_api_records_the_client_address(hot, settings, signed_in, chapter, enrolment):
    settings.TRUSTED_PROXY_COUNT = 1
    r = signed_in.post(
        "/api/learning/sessions",
        {"chapter_id": chapter.pk},
        content_type="application/json",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{BANNED}, {CLIENT}",
    )
    assert r.status_code == 201
    assert PlaySession.objects.get(key=r.json()["session"]).ip == CLIENT


def test_door_keeps_the_old_players_seconds_until_a_takeover(
    door, settings, learner, chapter, enrolment, now
):
    """The front door judges by the same rule as the ninja route and the plain path: the old
    player's report after a takeover is credited up to the takeover, then refused (409)."""
    from cpe.learning.models import ChapterProgress

    first = _start(learner, chapter, now - timedelta(seconds=60), ip=CLIENT)
    _start(learner, chapter, now - timedelta(seconds=20), ip=CLIENT)  # a second tab, 40 s in
    status, body = _beat(door, first, 1, 0, 55, CLIENT)
    assert status == 409 and body["code"] == "superseded"
    hotpath.flush_dirty()
    assert ChapterProgress.objects.get(user=learner, chapter=chapter).intervals == [[0, 40]]
    ev = SuspiciousEvent.objects.get(session=first)
    assert ev.kind == "concurrent" and not SuspiciousEvent.objects.filter(kind="rate").exists()


def test_door_follows_the_proxy_setting_at_once(door, settings, learner, chapter, enrolment, now):
    """A change of TRUSTED_PROXY_COUNT changes which address the same peer and X-Forwarded-For
    name, and the door follows at once (nothing in it may keep the address it worked out)."""
    settings.TRUSTED_PROXY_COUNT = 1
    s = _start(learner, chapter, now - timedelta(seconds=40), ip=CLIENT)
    assert _beat(door, s, 1, 0, 30, PROXY, CLIENT)[0] == 200  # the client behind the proxy
    assert not SuspiciousEvent.objects.filter(session=s, kind="ip_change").exists()
    settings.TRUSTED_PROXY_COUNT = 0
    assert _beat(door, s, 2, 30, 35, PROXY, CLIENT)[0] == 200  # no proxy trusted: the peer is
    ev = SuspiciousEvent.objects.get(session=s, kind="ip_change")
    assert ev.ip == PROXY and ev.detail == {"first_ip": CLIENT}
