"""A play token is a bearer credential: it earns nothing on its own. Every heartbeat must come
with the web session the play session was started in, and a sign-out, a ban, a termination or a
hold revokes every play token of the account at once, on both doors (the WSGI route in front of
Django's middleware and the ninja route), with the Redis hot path on and on the plain path.
Each replay below answered 200 and credited on the old code."""

import importlib
import io
import json
import os
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cpe.core.crypto import blind_index
from cpe.learning import hotpath, services
from cpe.learning.errors import LearningError
from cpe.learning.models import ChapterProgress, PlaySession, SuspiciousEvent

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="the hot path needs Redis: set REDIS_URL (CI does)")
pytestmark = pytest.mark.django_db


# --- helpers -----------------------------------------------------------------------------------
@pytest.fixture
def door(settings):
    """The WSGI route in front of Django (config/hotpath_wsgi.py), as production mounts it."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    from config.hotpath_wsgi import wrap

    def django_app(environ, start_response):
        start_response("418 I'm a teapot", [])
        return [b""]

    settings.ALLOWED_HOSTS = ["testserver"]
    request_finished.disconnect(close_old_connections)  # the test's transaction survives the request
    yield wrap(django_app)
    request_finished.connect(close_old_connections)


def _wsgi(app, key, body, *, token, cookie):
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)  # the test client's requests connect it again
    raw = json.dumps(body).encode()
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/api/learning/sessions/{key}/heartbeat",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "10.0.0.1",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "testserver",
        "HTTP_X_PLAY_TOKEN": token,
    }
    if cookie:
        env["HTTP_COOKIE"] = f"sessionid={cookie}; csrftoken=x"
    got = {}
    out = b"".join(app(env, lambda status, headers: got.update(status=status)))
    return int(got["status"][:3]), json.loads(out)


def _ninja(key, body, *, token, cookie, settings):
    """The documented route through Django's middleware, as the player calls it (no CSRF token:
    the play token authorises it)."""
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    if cookie:
        c.cookies[settings.SESSION_COOKIE_NAME] = cookie
    r = c.post(
        f"/api/learning/sessions/{key}/heartbeat",
        body,
        content_type="application/json",
        headers={"X-Play-Token": token},
    )
    return r.status_code, r.json()


def _start_in(signed_in, learner, chapter, ago=40):
    """A player started `ago` seconds ago in the signed-in browser's web session."""
    raw = signed_in.session.session_key
    s = services.play_start(
        user=learner,
        chapter_id=chapter.pk,
        web_session=raw,
        ip="10.0.0.1",
        at=timezone.now() - timedelta(seconds=ago),
        rand=lambda: 0.5,
    )
    return s, hotpath.play_token(s.key), raw


def _watched(learner, chapter):
    if hotpath.enabled():
        hotpath.flush_dirty()
    p = ChapterProgress.objects.get(user=learner, chapter=chapter)
    return p.watched_seconds, p.completed_at


def _ban(learner, capture):
    from cpe.moderation.services import ban_account

    with capture(execute=True):
        ban_account(user_id=learner.pk, reason="转借账号代学", actor=None)


def _terminate(learner, capture):
    from cpe.accounts.states import TerminationReason
    from cpe.moderation.services import learner_terminate

    with capture(execute=True):
        learner_terminate(user_id=learner.pk, reason=TerminationReason.VIOLATION, note="代学", actor=None)


def _sign_out(signed_in, capture):
    with capture(execute=True):
        assert signed_in.post(reverse("accounts:logout")).status_code == 302


# --- the hot path (REDIS_URL set) ---------------------------------------------------------------
@needs_redis
@pytest.mark.parametrize(
    "sanction, status, code",
    [("ban", 403, "banned"), ("terminate", 403, "terminated"), ("sign_out", 401, "session_elsewhere")],
)
def test_hot_path_a_sanction_refuses_the_replayed_token_at_once_on_both_doors(
    hot,
    door,
    learner,
    chapter,
    enrolment,
    signed_in,
    settings,
    django_capture_on_commit_callbacks,
    sanction,
    status,
    code,
):
    s, token, raw = _start_in(signed_in, learner, chapter)
    got = _wsgi(door, s.key, {"seq": 1, "start": 0, "position": 30}, token=token, cookie=raw)
    assert got[0] == 200 and got[1]["credited"] == 30
    {
        "ban": lambda: _ban(learner, django_capture_on_commit_callbacks),
        "terminate": lambda: _terminate(learner, django_capture_on_commit_callbacks),
        "sign_out": lambda: _sign_out(signed_in, django_capture_on_commit_callbacks),
    }[sanction]()

    # The player's requests replayed at once, same token and cookie: refused on both doors.
    got = _wsgi(door, s.key, {"seq": 2, "start": 30, "position": 60}, token=token, cookie=raw)
    assert got[0] == status, got
    assert _wsgi(door, s.key, {"seq": 3, "start": 30, "position": 60}, token=token, cookie=None)[0] in (
        401,
        403,
    )
    assert _ninja(s.key, {"seq": 4, "start": 30, "position": 60}, token=token, cookie=raw, settings=settings)[
        0
    ] in (401, 403)
    # Redis forgetting the account's current-stream marker (expiry, restart), and a web process
    # that never served this player (no hint), change nothing.
    hotpath.client().delete(f"{hotpath.prefix()}c:{learner.pk}")
    hotpath._hints.clear()
    again = _wsgi(door, s.key, {"seq": 5, "start": 30, "position": 60}, token=token, cookie=raw)
    assert again[0] == status, again
    assert got[1] == again[1] == {"code": code, "message": services.REFUSALS[code]}
    # Nothing more was credited, the chapter is not complete, the row says why.
    assert _watched(learner, chapter) == (30, None)
    row = PlaySession.objects.get(pk=s.pk)
    assert row.revoked_at is not None and row.revoked_reason == code
    # A client still reporting well after it was told: staff see it among the suspicious patterns.
    with pytest.raises(LearningError):
        hotpath.beat(
            key=s.key,
            seq=6,
            start=30,
            position=60,
            at=row.revoked_at + timedelta(seconds=60),
            web_session=services.web_session_hash(raw),
        )
    assert SuspiciousEvent.objects.filter(session=row, kind="revoked").count() == 1
    assert _watched(learner, chapter) == (30, None)


@needs_redis
def test_hot_path_the_token_without_its_web_session_earns_nothing(
    hot, door, learner, chapter, enrolment, signed_in, settings
):
    s, token, raw = _start_in(signed_in, learner, chapter)
    for cookie in (None, "another-browser-session-key-0001"):
        got = _wsgi(door, s.key, {"seq": 1, "start": 0, "position": 30}, token=token, cookie=cookie)
        assert got[0] == 401 and got[1]["code"] == "unbound"
    got = _ninja(s.key, {"seq": 1, "start": 0, "position": 30}, token=token, cookie=None, settings=settings)
    assert got[0] == 401 and got[1]["code"] == "unbound" and got[1]["message"] == services.REFUSALS["unbound"]
    assert SuspiciousEvent.objects.filter(session=s, kind="unbound").count() == 1
    assert _watched(learner, chapter) == (0, None)
    got = _wsgi(
        door, s.key, {"seq": 1, "start": 0, "position": 30}, token=token, cookie=raw
    )  # the player itself
    assert got[0] == 200 and got[1]["credited"] == 30


@needs_redis
def test_hot_path_a_correction_hold_stops_the_player_at_once(
    hot, door, learner, chapter, enrolment, signed_in, django_capture_on_commit_callbacks
):
    from cpe.accounts.services import correction_hold_set

    s, token, raw = _start_in(signed_in, learner, chapter)
    assert _wsgi(door, s.key, {"seq": 1, "start": 0, "position": 30}, token=token, cookie=raw)[0] == 200
    with django_capture_on_commit_callbacks(execute=True):
        correction_hold_set(user_id=learner.pk, reason="姓名与身份证不一致", actor=None)
    got = _wsgi(door, s.key, {"seq": 2, "start": 30, "position": 60}, token=token, cookie=raw)
    assert got[0] == 403 and got[1]["code"] == "on_hold"
    assert _watched(learner, chapter) == (30, None)


@needs_redis
def test_hot_path_a_revocation_lost_by_redis_is_restored_from_the_row(hot, learner, chapter, enrolment, now):
    """Redis down when a ban commits: the rows are revoked; the next flush marks the state."""
    s = services.play_start(
        user=learner, chapter_id=chapter.pk, web_session="k" * 32, at=now, rand=lambda: 0.5
    )
    ws = services.web_session_hash("k" * 32)
    assert (
        hotpath.beat(
            key=s.key, seq=1, start=0, position=30, at=now + timedelta(seconds=30), web_session=ws
        ).credited
        == 30
    )
    services.play_sessions_revoke(
        user_id=learner.pk, reason="banned", at=now + timedelta(seconds=31)
    )  # no commit hook
    hotpath.flush_keys([s.key])
    with pytest.raises(LearningError) as exc:
        hotpath.beat(key=s.key, seq=2, start=30, position=60, at=now + timedelta(seconds=60), web_session=ws)
    assert exc.value.code == "banned"


# --- the plain path (no Redis hot path) --------------------------------------------------------
@pytest.fixture
def plain(settings):
    settings.LEARNING_HOTPATH = "orm"
    assert not hotpath.enabled()


@pytest.mark.parametrize(
    "sanction, status, code",
    [("ban", 403, "banned"), ("terminate", 403, "terminated"), ("sign_out", 401, "session_elsewhere")],
)
def test_plain_path_a_sanction_refuses_the_replayed_token_at_once(
    plain,
    learner,
    chapter,
    enrolment,
    signed_in,
    settings,
    django_capture_on_commit_callbacks,
    sanction,
    status,
    code,
):
    s, token, raw = _start_in(signed_in, learner, chapter)
    got = _ninja(s.key, {"seq": 1, "start": 0, "position": 30}, token=token, cookie=raw, settings=settings)
    assert got[0] == 200 and got[1]["credited"] == 30
    {
        "ban": lambda: _ban(learner, django_capture_on_commit_callbacks),
        "terminate": lambda: _terminate(learner, django_capture_on_commit_callbacks),
        "sign_out": lambda: _sign_out(signed_in, django_capture_on_commit_callbacks),
    }[sanction]()
    # The token alone (no cookie: the middleware has no session to end) is refused by the row.
    got = _ninja(s.key, {"seq": 2, "start": 30, "position": 60}, token=token, cookie=None, settings=settings)
    assert got[0] == status, got
    assert got[1]["code"] == code and got[1]["message"] == services.REFUSALS[code]
    # With the old cookie too (the ban and termination pages answer first; a signed-out one by the row).
    assert _ninja(s.key, {"seq": 3, "start": 30, "position": 60}, token=token, cookie=raw, settings=settings)[
        0
    ] in (401, 403)
    assert _watched(learner, chapter) == (30, None)
    row = PlaySession.objects.get(pk=s.pk)
    assert row.revoked_reason == code and row.last_seq == 1 and row.credited_seconds == 30
    with pytest.raises(LearningError):  # well after it was told: recorded once
        services.play_heartbeat(
            user=learner,
            key=s.key,
            seq=4,
            start=30,
            position=60,
            at=row.revoked_at + timedelta(seconds=60),
            web_session=services.web_session_hash(raw),
        )
    assert SuspiciousEvent.objects.filter(session=row, kind="revoked").count() == 1


def test_plain_path_the_token_without_its_web_session_earns_nothing(
    plain, learner, chapter, enrolment, signed_in, settings
):
    s, token, raw = _start_in(signed_in, learner, chapter)
    got = _ninja(s.key, {"seq": 1, "start": 0, "position": 30}, token=token, cookie=None, settings=settings)
    assert got[0] == 401 and got[1]["code"] == "unbound"
    assert SuspiciousEvent.objects.filter(session=s, kind="unbound").count() == 1
    row = PlaySession.objects.get(pk=s.pk)
    assert row.last_seq == 0 and row.credited_seconds == 0 and _watched(learner, chapter) == (0, None)
    got = _ninja(s.key, {"seq": 1, "start": 0, "position": 30}, token=token, cookie=raw, settings=settings)
    assert got[0] == 200 and got[1]["credited"] == 30


def test_plain_path_a_ban_in_the_rows_refuses_even_without_a_revocation(
    plain, learner, chapter, enrolment, now
):
    """The account's standing is read from the rows on every report (a ban written without the
    service still stops it)."""
    from cpe.moderation.models import Ban

    s = services.play_start(
        user=learner, chapter_id=chapter.pk, web_session="k" * 32, at=now, rand=lambda: 0.5
    )
    Ban.objects.create(kind="account", user=learner, reason="x", starts_at=now)
    with pytest.raises(LearningError) as exc:
        services.play_heartbeat(
            user=learner,
            key=s.key,
            seq=1,
            start=0,
            position=30,
            at=now + timedelta(seconds=30),
            web_session=services.web_session_hash("k" * 32),
        )
    assert exc.value.code == "banned" and _watched(learner, chapter) == (0, None)


# --- sign-in, start, storage ----------------------------------------------------------------------
def test_a_banned_account_cannot_start_a_player(learner, chapter, enrolment, now):
    from cpe.moderation.models import Ban

    Ban.objects.create(kind="account", user=learner, reason="x", starts_at=now)
    with pytest.raises(LearningError) as exc:
        services.play_start(user=learner, chapter_id=chapter.pk, web_session="k" * 32, at=now)
    assert exc.value.code == "banned" and not PlaySession.objects.filter(user=learner).exists()


def test_signing_in_again_revokes_the_old_browsers_players(
    learner, chapter, enrolment, signed_in, client, now
):
    s, token, raw = _start_in(signed_in, learner, chapter)
    from django.test import Client

    Client().force_login(learner)  # another browser
    row = PlaySession.objects.get(pk=s.pk)
    assert row.revoked_reason == "session_elsewhere"


def test_only_a_keyed_hash_of_the_web_session_is_stored(learner, chapter, enrolment, now):
    raw = "abcdefghijklmnopqrstuvwxyz012345"
    s = services.play_start(user=learner, chapter_id=chapter.pk, web_session=raw, at=now)
    stored = PlaySession.objects.get(pk=s.pk).web_session
    assert stored == blind_index("session_key", raw) and raw not in stored and len(stored) == 64


def test_the_migration_replaces_raw_keys_by_their_hash(learner, chapter, enrolment, now):
    from django.apps import apps

    mig = importlib.import_module("cpe.learning.migrations.0003_play_session_revocation_web_session_hash")
    a = services.play_start(user=learner, chapter_id=chapter.pk, at=now)
    b = services.play_start(user=learner, chapter_id=chapter.pk, at=now)
    raw = "abcdefghijklmnopqrstuvwxyz012345"
    PlaySession.objects.filter(pk=a.pk).update(web_session=raw)
    mig.hash_web_sessions(apps, None)
    mig.hash_web_sessions(apps, None)  # twice: a digest is left alone
    assert PlaySession.objects.get(pk=a.pk).web_session == blind_index("session_key", raw)
    assert PlaySession.objects.get(pk=b.pk).web_session == ""


@needs_redis
def test_hot_path_a_state_from_before_the_binding_takes_it_from_the_row(
    hot, learner, chapter, enrolment, now
):
    """States Redis held at deploy carry no digest: the row's is used (players keep playing),
    and still only with their own web session."""
    s = services.play_start(
        user=learner, chapter_id=chapter.pk, web_session="k" * 32, at=now, rand=lambda: 0.5
    )
    r, key = hotpath.client(), f"{hotpath.prefix()}s:{s.key}"
    d = json.loads(r.hget(key, "j"))
    for name in ("ws", "rv", "rva"):
        d.pop(name)
    r.hset(key, "j", json.dumps(d))
    hotpath._hints.clear()
    with pytest.raises(LearningError) as exc:
        hotpath.beat(key=s.key, seq=1, start=0, position=30, at=now + timedelta(seconds=30), web_session="")
    assert exc.value.code == "unbound"
    ws = services.web_session_hash("k" * 32)
    assert (
        hotpath.beat(
            key=s.key, seq=1, start=0, position=30, at=now + timedelta(seconds=30), web_session=ws
        ).credited
        == 30
    )
    assert json.loads(r.hget(key, "j"))["ws"] == ws


@needs_redis
def test_hot_path_closing_the_account_stops_its_player_at_once(
    hot, door, learner, chapter, enrolment, signed_in, django_capture_on_commit_callbacks
):
    """Closing is allowed once the enrolment has ended; a player left open in another tab, or
    its token replayed, is refused as closed (not as merely expired), and earns nothing."""
    from cpe.accounts.closing import account_close

    s, token, raw = _start_in(signed_in, learner, chapter)
    assert _wsgi(door, s.key, {"seq": 1, "start": 0, "position": 30}, token=token, cookie=raw)[0] == 200
    type(enrolment).objects.filter(pk=enrolment.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        account_close(user=learner, password="Zhang-san-2026", confirmed=True)
    got = _wsgi(door, s.key, {"seq": 2, "start": 30, "position": 60}, token=token, cookie=raw)
    assert got[0] == 403 and got[1]["code"] == "account_closed", got
    assert PlaySession.objects.get(pk=s.pk).revoked_reason == "account_closed"
