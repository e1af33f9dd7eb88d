"""The heartbeat when Redis drops its connections (a restart, CLIENT KILL) or cannot be reached,
against the real Redis (REDIS_URL; CI sets it). Found in the failure drill: after a Redis
restart each gunicorn thread's next heartbeat answered 500, its pooled socket being dead. Now
the next heartbeat is credited on a new connection, once; Redis really unreachable gives a
clear 503, and nothing acknowledged is lost."""

from datetime import timedelta

import pytest
import redis
from django.core.signals import request_finished
from django.db import close_old_connections

from cpe.core import redis_wire
from cpe.learning import hotpath, services
from cpe.learning.models import PlaySession

from .factories import sec
from .test_hotpath import REDIS_URL, _beat, _call, _start, _stored

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("hot"),  # the Redis hot path on, under a key prefix of the test's own
    pytest.mark.skipif(not REDIS_URL, reason="the hot path needs Redis: set REDIS_URL (CI does)"),
]
UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def door(settings):
    """The WSGI door in front of a stand-in Django (the test's transaction survives its end)."""
    from config.hotpath_wsgi import wrap

    settings.ALLOWED_HOSTS = ["testserver"]
    request_finished.disconnect(close_old_connections)
    yield wrap(lambda environ, start_response: start_response("418 I'm a teapot", []) or [b""])
    request_finished.connect(close_old_connections)


def _our_connection_ids() -> list:
    """This process's connections to the hot path's Redis: the wire's (this thread's) and
    redis-py's pooled ones."""
    ids = [redis_wire.wire(REDIS_URL).call(["CLIENT", "ID"], idempotent=True)]
    for conn in list(hotpath.client().connection_pool._available_connections):
        conn.send_command("CLIENT", "ID")
        ids.append(conn.read_response())
    return ids


def _kill(ids, **how):
    """CLIENT KILL from another connection, with the given filters, narrowed (filters AND) to
    our own connections: the Redis is shared, other processes keep theirs."""
    other = redis.Redis.from_url(REDIS_URL)
    extra = [x for k, v in how.items() for x in (k.upper(), str(v))]
    try:
        return sum(other.execute_command("CLIENT", "KILL", "ID", str(i), *extra) for i in ids)
    finally:
        other.close()


def _path(s):
    return f"/api/learning/sessions/{s.key}/heartbeat"


@pytest.mark.parametrize(
    "how",
    [{}, {"type": "normal"}, {"type": "normal", "skipme": "yes"}],
    ids=["by-id", "type-normal", "skipme-yes"],
)
def test_after_the_connections_are_killed_the_next_heartbeat_is_credited(
    door, learner, chapter, enrolment, how
):
    from django.utils import timezone

    now = timezone.now()
    s = _start(learner, chapter, now - timedelta(seconds=55))
    assert _beat(s, now - timedelta(seconds=45), 1, 0, 10).credited == 10  # this process holds the state
    assert _kill(_our_connection_ids(), **how) >= 1
    status, _, body = _call(
        door, _path(s), {"seq": 2, "start": 10, "position": 35}, hotpath.play_token(s.key)
    )
    assert status == 200 and body["credited"] == 25
    hotpath.flush_dirty()
    assert _stored(learner, chapter).watched_seconds == 35  # acknowledged 10 + 25, stored once each


def test_a_commit_whose_reply_is_lost_is_sent_again_and_credited_once(
    learner, chapter, enrolment, now, monkeypatch
):
    """The commit reached Redis and ran, then the connection broke before its reply: it is sent
    again on a new connection, recognises its own new version, and answers committed without
    writing a second time."""
    s = _start(learner, chapter, now)
    assert _beat(s, sec(now, 30), 1, 0, 30).credited == 30
    commit_sha = hotpath._SCRIPTS["commit"].sha.encode()
    real, lost = redis_wire.Wire._send, []

    def send(c, data):
        if not lost and isinstance(data, bytes) and commit_sha in data:
            lost.append(data)
            c[0].sendall(data)
            c[0].recv(1 << 16)  # Redis ran it and answered; the answer is lost with the connection
            c[0].close()
            raise BrokenPipeError("broken pipe")
        return real(c, data)

    monkeypatch.setattr(redis_wire.Wire, "_send", staticmethod(send))
    r = _beat(s, sec(now, 60), 2, 30, 60)
    assert lost and r.credited == 30 and r.watched_seconds == 60
    hotpath.flush_dirty()
    assert _stored(learner, chapter).watched_seconds == 60
    assert PlaySession.objects.get(pk=s.pk).heartbeats == 2  # two reports, each committed once


def test_redis_unreachable_the_door_answers_503_in_chinese_and_loses_nothing_acknowledged(
    door, learner, chapter, enrolment, settings
):
    from django.utils import timezone

    now = timezone.now()
    s = _start(learner, chapter, now - timedelta(seconds=55))
    assert _beat(s, now - timedelta(seconds=45), 1, 0, 10).credited == 10  # acknowledged
    settings.LEARNING_HOTPATH_REDIS_URL = UNREACHABLE
    token = hotpath.play_token(s.key)
    status, headers, body = _call(door, _path(s), {"seq": 2, "start": 10, "position": 35}, token)
    assert status == 503 and body == {"code": "unavailable", "message": services.REFUSALS["unavailable"]}
    assert "暂时不可用" in body["message"] and headers["Cache-Control"] == "no-store"
    assert int(headers["Retry-After"]) > 0  # when to ask again
    settings.LEARNING_HOTPATH_REDIS_URL = REDIS_URL  # Redis is back
    status, _, body = _call(door, _path(s), {"seq": 3, "start": 10, "position": 35}, token)
    assert status == 200 and body["credited"] == 25  # the player claims the refused time again
    hotpath.flush_dirty()
    assert _stored(learner, chapter).watched_seconds == 35


def test_redis_unreachable_the_play_api_answers_503_too(signed_in, chapter, enrolment, settings):
    started = signed_in.post(
        "/api/learning/sessions", {"chapter_id": chapter.pk}, content_type="application/json"
    )
    key, token = started.json()["session"], started.json()["token"]
    settings.LEARNING_HOTPATH_REDIS_URL = UNREACHABLE
    try:
        r = signed_in.post(
            f"/api/learning/sessions/{key}/heartbeat",
            {"seq": 1, "start": 0, "position": 1},
            content_type="application/json",
            headers={"X-Play-Token": token},
        )
    finally:
        settings.LEARNING_HOTPATH_REDIS_URL = REDIS_URL  # for the fixture's clean-up
    assert r.status_code == 503 and r.json()["code"] == "unavailable" and int(r["Retry-After"]) > 0
    assert r.json()["message"] == services.REFUSALS["unavailable"]


def _all_redis_unreachable(settings):
    """Every use of Redis at once, as when the one Redis is down: the hot path, the cache, and
    the session cache in front of PostgreSQL (decision 0018)."""
    from cpe.accounts import sessions

    settings.LEARNING_HOTPATH_REDIS_URL = UNREACHABLE
    settings.CACHES = {name: {**conf, "LOCATION": UNREACHABLE} for name, conf in settings.CACHES.items()}
    sessions.outage.reset()


def test_redis_unreachable_the_play_start_answers_503_in_chinese_and_starts_nothing(
    signed_in, chapter, enrolment, settings
):
    """Opening a player is the web path (the session cookie, redis-py): it was a 500. Now a 503
    with the message and Retry-After; nothing is started; once Redis is back the start works."""
    caches = settings.CACHES
    _all_redis_unreachable(settings)
    try:
        r = signed_in.post(
            "/api/learning/sessions", {"chapter_id": chapter.pk}, content_type="application/json"
        )
    finally:
        settings.LEARNING_HOTPATH_REDIS_URL, settings.CACHES = REDIS_URL, caches
    assert r.status_code == 503, r.status_code
    assert r.json() == {"code": "unavailable", "message": services.REFUSALS["unavailable"]}
    assert int(r["Retry-After"]) > 0
    assert not PlaySession.objects.exists()
    again = signed_in.post(
        "/api/learning/sessions", {"chapter_id": chapter.pk}, content_type="application/json"
    )
    assert again.status_code == 201


def test_redis_unreachable_a_sign_out_signs_out_and_the_player_is_refused_once_it_is_back(
    door, signed_in, learner, chapter, enrolment, settings, django_capture_on_commit_callbacks
):
    """Signing out touches the hot path's Redis (the account's players stop: the current-stream
    marker, each play state marked revoked). Redis down must not make it a 500: the learner is
    signed out (the web session row is gone), the play session's row is revoked, and the
    player's next report, once Redis is back, is refused: its browser no longer has the web
    session the play session is bound to, and a replay with the old cookie meets the revocation
    the flush carries from the row into the state."""
    from django.urls import reverse

    from cpe.accounts.models import StoredSession

    old_cookie = signed_in.cookies["sessionid"].value
    key = services.play_start(user=learner, chapter_id=chapter.pk, web_session=old_cookie, ip="10.0.0.1").key
    token = hotpath.play_token(key)
    path = f"/api/learning/sessions/{key}/heartbeat"
    assert (
        _call(door, path, {"seq": 1, "start": 0, "position": 1}, token, cookie=f"sessionid={old_cookie}")[0]
        == 200
    )
    caches = settings.CACHES
    _all_redis_unreachable(settings)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            r = signed_in.post(reverse("accounts:logout"))
    finally:
        settings.LEARNING_HOTPATH_REDIS_URL, settings.CACHES = REDIS_URL, caches
    assert r.status_code == 302
    assert not StoredSession.objects.exists()  # signed out
    assert signed_in.cookies["sessionid"].value == ""  # the browser was told to drop the cookie
    assert PlaySession.objects.get(key=key).revoked_reason == "session_elsewhere"
    request_finished.disconnect(close_old_connections)  # the test client connected it again
    # Redis is back, and it never heard of the sign-out. The browser's player, without the cookie:
    status, _, body = _call(door, path, {"seq": 2, "start": 1, "position": 6}, token, cookie=None)
    assert status == 401 and body["code"] == "unbound"
    # A replay with the old cookie: the next flush carries the row's revocation into Redis.
    hotpath.flush_dirty()
    status, _, body = _call(
        door, path, {"seq": 3, "start": 1, "position": 6}, token, cookie=f"sessionid={old_cookie}"
    )
    assert status == 401 and body["code"] == "session_elsewhere"
