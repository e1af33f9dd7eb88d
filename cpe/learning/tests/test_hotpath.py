"""The Redis heartbeat hot path (ADR 0003 "Speed"): the same policy.heartbeat against Redis state,
written behind to the database. Injected times; a unique key prefix per test on the REDIS_URL
database (CI sets REDIS_URL; skipped without it)."""

import io
import json
import os
import threading
from datetime import timedelta

import pytest

from cpe.core.models import AuditEvent
from cpe.learning import hotpath, policy, services
from cpe.learning.errors import LearningError
from cpe.learning.models import ChapterProgress, PlaySession, SuspiciousEvent

from .factories import sec

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not REDIS_URL, reason="the hot path needs Redis: set REDIS_URL (CI does)"),
]


WEB_SESSION = "websessionkey0000000000000000001"  # the raw session key the tests' players start in


def _start(learner, chapter, at, **kw):
    kw.setdefault("rand", lambda: 0.5)
    kw.setdefault("web_session", WEB_SESSION)
    return services.play_start(user=learner, chapter_id=chapter.pk, at=at, ip=kw.pop("ip", "10.0.0.1"), **kw)


def _beat(s, at, seq, start, position, ip="10.0.0.1", user_id=None):
    return hotpath.beat(key=s.key, seq=seq, start=start, position=position, ip=ip, at=at, user_id=user_id)


def _stored(learner, chapter):
    return ChapterProgress.objects.get(user=learner, chapter=chapter)


def _redis_lost(settings):
    """Redis restarted without persistence: every key of ours is gone."""
    r = hotpath.client()
    r.delete(*r.scan_iter(match=settings.LEARNING_HOTPATH_PREFIX + "*", count=1000))


def test_steady_play_is_written_behind_and_completion_at_once(hot, learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    results = [_beat(s, sec(now, t), i, t - 30, t) for i, t in enumerate((30, 60, 90), 1)]
    assert [r.credited for r in results] == [30, 30, 30] and results[-1].watched_seconds == 90
    assert _stored(learner, chapter).watched_seconds == 0  # not yet: written behind
    assert hot.flush_dirty() == 1
    p = _stored(learner, chapter)
    assert p.intervals == [[0, 90]] and p.watched_seconds == 90 and p.completed_at is None
    r = _beat(s, sec(now, 120), 4, 90, 120)
    assert r.completed_now and r.completed
    p = _stored(learner, chapter)  # completion is stored (and audited) with the report itself
    assert p.completed_at == sec(now, 120) and p.watched_seconds == 120
    assert AuditEvent.objects.filter(event_type="learning.chapter_completed").count() == 1
    hot.flush_dirty()
    hot.flush_keys([s.key])
    assert AuditEvent.objects.filter(event_type="learning.chapter_completed").count() == 1
    row = PlaySession.objects.get(pk=s.pk)
    assert row.last_seq == 4 and row.credited_seconds == 120 and row.heartbeats == 4


def test_same_sequence_same_verdicts_as_the_orm_path(hot, learner, chapter, enrolment, now, settings):
    """One rule set: a mixed sequence judged by both paths gives the same credit and reasons."""
    script = [
        (30, 1, 0, 30),
        (60, 2, 30, 120),
        (61, 3, 0, 30),
        (90, 4, 100, 110),
        (100, 5, 30, 44),
        (100.5, 5, 44, 50),
        (130, 6, 44, 74),
    ]
    hot_s = _start(learner, chapter, now)
    hot_out = [(r.credited, r.reason) for r in (_beat(hot_s, sec(now, t), q, a, b) for t, q, a, b in script)]
    hot.flush_dirty()
    hot_stored = _stored(learner, chapter).intervals
    ChapterProgress.objects.filter(user=learner, chapter=chapter).update(intervals=[], watched_seconds=0)
    settings.LEARNING_HOTPATH = "orm"
    orm_s = _start(learner, chapter, sec(now, 1000))
    orm_out = [
        (r.credited, r.reason)
        for r in (
            services.play_heartbeat(
                user=learner, key=orm_s.key, seq=q, start=a, position=b, ip="10.0.0.1", at=sec(now, 1000 + t)
            )
            for t, q, a, b in script
        )
    ]
    assert hot_out == orm_out
    assert hot_stored == _stored(learner, chapter).intervals


def test_concurrent_beats_of_one_session_credit_once(hot, learner, chapter, enrolment, now, monkeypatch):
    """The same report judged twice at once: the compare-and-set lets one commit; the other is
    judged again on the new state and is a replay."""
    s = _start(learner, chapter, now)
    real_commit = hotpath._commit_cmd
    raced = []

    def commit_after_a_rival(*args, **kw):
        if not raced:
            raced.append(None)
            raced[0] = _beat(s, sec(now, 30), 1, 0, 30)  # the rival commits in between
        return real_commit(*args, **kw)

    monkeypatch.setattr(hotpath, "_commit_cmd", commit_after_a_rival)
    second = _beat(s, sec(now, 30), 1, 0, 30)
    assert raced[0].credited == 30 and second.credited == 0 and second.reason == policy.REPLAY
    hot.flush_dirty()
    assert _stored(learner, chapter).watched_seconds == 30


def test_a_report_judged_on_an_outdated_hint_is_judged_again(hot, learner, chapter, enrolment, now):
    """A process remembers the state it last committed, to save a read; when another process
    has committed since, the commit is refused and the report is judged on Redis's state."""
    s = _start(learner, chapter, now)
    _beat(s, sec(now, 30), 1, 0, 30)
    stale = hotpath._hints[s.key]
    assert _beat(s, sec(now, 60), 2, 30, 60).credited == 30  # served by "another process"
    hotpath._hints[s.key] = stale  # this one has not seen it
    again = _beat(s, sec(now, 60), 2, 30, 60)
    assert again.credited == 0 and again.reason == policy.REPLAY
    assert _beat(s, sec(now, 90), 3, 60, 90).credited == 30
    hot.flush_dirty()
    assert _stored(learner, chapter).intervals == [[0, 90]]
    assert PlaySession.objects.get(pk=s.pk).heartbeats == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_beats_in_threads_credit_once(hot, learner, chapter, enrolment, now):
    from django.db import connection

    s = _start(learner, chapter, now)
    out, barrier = [], threading.Barrier(6)

    def fire():
        barrier.wait()
        try:
            out.append(_beat(s, sec(now, 30), 1, 0, 30).credited)
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == [0, 0, 0, 0, 0, 30]
    hot.flush_dirty()
    assert _stored(learner, chapter).watched_seconds == 30


def test_flush_is_idempotent_and_never_goes_back(hot, learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    _beat(s, sec(now, 30), 1, 0, 30)
    old = hot.client().hget(f"{hot.prefix()}s:{s.key}", "j")
    _beat(s, sec(now, 60), 2, 30, 60)
    assert hot.flush_keys([s.key]) == 1
    first = (_stored(learner, chapter).intervals, PlaySession.objects.get(pk=s.pk).last_seq)
    assert hot.flush_keys([s.key]) == 1 and hot.flush_dirty() == 0  # again: nothing changes
    assert (
        (_stored(learner, chapter).intervals, PlaySession.objects.get(pk=s.pk).last_seq)
        == first
        == ([[0, 60]], 2)
    )
    # A late flusher holding an older snapshot cannot take anything back.
    hot.client().hset(f"{hot.prefix()}s:{s.key}", "j", old)
    hot.flush_keys([s.key])
    assert _stored(learner, chapter).intervals == [[0, 60]] and PlaySession.objects.get(pk=s.pk).last_seq == 2


def test_a_crash_between_beats_loses_at_most_one_interval(hot, learner, chapter, enrolment, now, settings):
    s = _start(learner, chapter, now)
    earned = 0.0
    for i, t in enumerate((30, 60, 90), 1):
        earned += _beat(s, sec(now, t), i, t - 30, t).credited
        hot.flush_dirty()  # the flusher, every interval
    earned += _beat(s, sec(now, 100), 4, 90, 100).credited  # credited, not yet flushed
    _redis_lost(settings)
    stored = _stored(learner, chapter).watched_seconds
    assert earned - stored <= policy.HEARTBEAT_INTERVAL and stored == 90
    # The player goes on: the state is rebuilt from the database and crediting resumes from the
    # stored frontier (a report starting beyond it, at 100, is a skip like any other).
    assert _beat(s, sec(now, 130), 5, 100, 130).reason == policy.SKIP
    r = _beat(s, sec(now, 160), 6, 90, 120)
    assert r.credited == 30 and r.reason == ""
    hot.flush_dirty()
    assert _stored(learner, chapter).intervals == [[0, 120]]


def test_a_web_process_dying_mid_report_loses_nothing_committed(
    hot, learner, chapter, enrolment, now, monkeypatch
):
    s = _start(learner, chapter, now)
    _beat(s, sec(now, 30), 1, 0, 30)

    def die(*a, **kw):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(hotpath, "_record_flags", die)  # after the commit: the answer never left
    with pytest.raises(RuntimeError):
        _beat(s, sec(now, 60), 2, 30, 60, ip="10.9.9.9")
    monkeypatch.undo()
    hot.flush_dirty()
    assert _stored(learner, chapter).intervals == [[0, 60]]


def test_superseded_stream_keeps_what_it_played_before_the_takeover(hot, learner, chapter, enrolment, now):
    first = _start(learner, chapter, now)
    _beat(first, sec(now, 30), 1, 0, 30)
    second = _start(learner, chapter, sec(now, 40))  # flushes the first before reading progress
    assert second.resume_at == 30 and _stored(learner, chapter).watched_seconds == 30
    with pytest.raises(LearningError) as exc:
        _beat(first, sec(now, 60), 2, 30, 60)
    assert exc.value.code == "superseded" and exc.value.status == 409
    assert SuspiciousEvent.objects.get().kind == "concurrent"
    with pytest.raises(LearningError):  # a later report of the first earns nothing
        _beat(first, sec(now, 90), 3, 60, 90)
    hot.flush_dirty()
    assert _stored(learner, chapter).intervals == [[0, 40]]  # the first's 30-40 s kept, nothing after
    assert _stored(learner, chapter).last_position == 30  # the resume point is not the old player's
    assert _beat(second, sec(now, 70), 1, 30, 60).credited == 30  # its own state: 30-60
    hot.flush_dirty()
    assert _stored(learner, chapter).intervals == [[0, 60]]


def test_a_start_that_never_committed_stops_the_old_stream_earning(hot, learner, chapter, enrolment, now):
    """A play start switches the account's current stream in Redis before its transaction; when
    that transaction never commits (refused under the lock, or its process died), no row says
    when the takeover was. The old player is answered 409 from its first report after the
    switch; a client that ignores the 409 and keeps reporting must not be credited up to each
    report's time: the takeover time is fixed at the first report that saw it."""
    first = _start(learner, chapter, now)
    _beat(first, sec(now, 30), 1, 0, 30)
    hot.stream_switch(learner.pk, "f" * 32)  # a start that switched the stream, then failed
    for seq, t in enumerate((60, 90, 120), 2):
        with pytest.raises(LearningError) as exc:
            _beat(first, sec(now, t), seq, t - 30, t)
        assert exc.value.code == "superseded" and exc.value.status == 409
    hot.flush_dirty()
    assert _stored(learner, chapter).intervals == [[0, 60]]  # up to the first refused report, no further


def test_fabricated_fast_beats_earn_no_more_than_real_time(hot, learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    for i, t in enumerate((30, 60), 1):
        _beat(s, sec(now, t), i, (t - 30) * 2, t * 2)
    for j in range(50):
        _beat(s, sec(now, 60 + j * 0.02), 3 + j, 0, 120)
    hot.flush_dirty()
    p = _stored(learner, chapter)
    real = 60 + 49 * 0.02
    assert (
        p.watched_seconds <= real + 1e-6 and PlaySession.objects.get(pk=s.pk).credited_seconds <= real + 1e-6
    )
    assert p.completed_at is None
    assert set(SuspiciousEvent.objects.values_list("kind", flat=True)) == {"rate"}


def test_refusals_as_the_orm_path(hot, learner, other_learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    with pytest.raises(LearningError) as exc:  # another learner's session (cookie-authenticated)
        _beat(s, sec(now, 30), 1, 0, 30, user_id=other_learner.pk)
    assert exc.value.code == "no_session"
    with pytest.raises(LearningError) as exc:
        hotpath.beat(key="0" * 32, seq=1, start=0, position=1, at=now)
    assert exc.value.code == "no_session"
    with pytest.raises(LearningError) as exc:  # the second the enrolment ends
        _beat(s, enrolment.valid_until, 1, 0, 30)
    assert exc.value.code == "expired"
    hotpath.end(key=s.key, at=sec(now, 40))
    assert PlaySession.objects.get(pk=s.pk).ended_at == sec(now, 40)  # written at once
    with pytest.raises(LearningError) as exc:
        _beat(s, sec(now, 60), 2, 0, 30)
    assert exc.value.code == "ended" and _stored(learner, chapter).watched_seconds == 0


def test_refund_stops_the_player_at_the_next_flush(hot, learner, chapter, enrolment, now):
    s = _start(learner, chapter, now)
    assert _beat(s, sec(now, 30), 1, 0, 30).credited == 30
    type(enrolment).objects.filter(pk=enrolment.pk).update(status="closed", closed_at=now)
    hot.flush_dirty()
    with pytest.raises(LearningError) as exc:
        _beat(s, sec(now, 60), 2, 30, 60)
    assert exc.value.code == "closed"
    hot.flush_dirty()
    assert _stored(learner, chapter).watched_seconds == 30


def test_signing_in_elsewhere_stops_the_player(hot, learner, chapter, enrolment, now, client):
    s = _start(learner, chapter, now)
    client.force_login(learner)  # a new sign-in (another browser)
    with pytest.raises(LearningError) as exc:
        _beat(s, sec(now, 30), 1, 0, 30)
    assert exc.value.code == "session_elsewhere" and exc.value.status == 401


def test_attention_check_on_the_hot_path(hot, learner, chapter, enrolment, now):
    chapter.duration_seconds = 3000
    chapter.save()
    s = _start(learner, chapter, now, rand=lambda: 0.0)  # first check after 630 s of play
    t, seq, r = 0, 0, None
    while t < 630:
        t, seq = t + 30, seq + 1
        r = _beat(s, sec(now, t), seq, t - 30, t)
    assert r.attention_token and r.attention_deadline == 60
    r = _beat(s, sec(now, t + 61), seq + 1, t, t + 61)
    assert r.credited == 0 and r.reason == policy.CHECK_OVERDUE
    with pytest.raises(LearningError) as exc:
        hotpath.attention_answer(key=s.key, token="wrong")
    assert exc.value.code == "bad_check"
    hotpath.attention_answer(key=s.key, token=r.attention_token, rand=lambda: 0.5)
    r = _beat(s, sec(now, t + 120), seq + 2, t, t + 29)  # the player went back to the frontier
    assert r.credited == 29 and not r.attention_token


# --- the WSGI door in front of Django ----------------------------------------------------------
def _call(app, path, body, token=None, host="testserver", cookie=f"sessionid={WEB_SESSION}; csrftoken=x"):
    raw = json.dumps(body).encode()
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        "HTTP_HOST": host,
        "REMOTE_ADDR": "10.0.0.1",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "testserver",
    }
    if token is not None:
        env["HTTP_X_PLAY_TOKEN"] = token
    if cookie is not None:
        env["HTTP_COOKIE"] = cookie
    got = {}
    out = b"".join(app(env, lambda status, headers: got.update(status=status, headers=dict(headers))))
    return int(got["status"][:3]), got["headers"], json.loads(out) if out else None


def test_wsgi_route_before_the_middleware(hot, learner, chapter, enrolment, now, settings):
    from django.core.signals import request_finished
    from django.db import close_old_connections

    from config.hotpath_wsgi import wrap

    settings.ALLOWED_HOSTS = ["testserver"]
    # As Django's test client does: the test's transaction must survive the end of the request.
    request_finished.disconnect(close_old_connections)
    try:
        _wsgi_route(learner, chapter, now, wrap)
    finally:
        request_finished.connect(close_old_connections)


def _wsgi_route(learner, chapter, now, wrap):
    passed = []

    def django_app(environ, start_response):
        passed.append(environ["PATH_INFO"])
        start_response("418 I'm a teapot", [])
        return [b""]

    app = wrap(django_app)
    s = _start(learner, chapter, now - timedelta(seconds=40))
    path = f"/api/learning/sessions/{s.key}/heartbeat"
    token = hotpath.play_token(s.key)
    status, headers, body = _call(app, path, {"seq": 1, "start": 0, "position": 30}, token)
    assert status == 200 and body["credited"] == 30 and body["attention"] is None
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert _call(app, path, {"seq": 2, "start": 30, "position": 31}, "0" * 64)[0] == 401
    assert _call(app, path, {"seq": 0, "start": -1, "position": 31}, token)[0] == 422
    assert _call(app, path, {"seq": 2, "start": 30, "position": 31}, token, host="evil.example")[0] == 400
    other = _start(learner, chapter, now)  # takes over
    status, _, body = _call(app, path, {"seq": 2, "start": 30, "position": 31}, token)
    assert status == 409 and body["code"] == "superseded"
    assert _call(app, path, {"seq": 2, "start": 30, "position": 31})[0] == 418  # no token: Django's
    assert passed == [path] and other.key != s.key


def test_api_accepts_the_play_token_with_its_session_cookie_without_csrf(
    hot, learner, chapter, enrolment, signed_in, settings
):
    from django.test import Client

    body = signed_in.post(
        "/api/learning/sessions", {"chapter_id": chapter.pk}, content_type="application/json"
    ).json()
    key, token = body["session"], body["token"]
    assert token == hotpath.play_token(key)
    c = Client(enforce_csrf_checks=True)
    url = f"/api/learning/sessions/{key}/heartbeat"
    assert c.post(
        url, {"seq": 1, "start": 0, "position": 1}, content_type="application/json"
    ).status_code in (401, 403)
    r = c.post(
        url,
        {"seq": 1, "start": 0, "position": 1},
        content_type="application/json",
        headers={"X-Play-Token": token},
    )  # the token alone, without the web session: nothing
    assert r.status_code == 401 and r.json()["code"] == "unbound"
    c.cookies[settings.SESSION_COOKIE_NAME] = signed_in.cookies[settings.SESSION_COOKIE_NAME].value
    r = c.post(
        url,
        {"seq": 1, "start": 0, "position": 1},
        content_type="application/json",
        headers={"X-Play-Token": token},
    )
    assert r.status_code == 200
    assert (
        c.post(
            f"/api/learning/sessions/{key}/end",
            content_type="application/json",
            headers={"X-Play-Token": token},
        ).status_code
        == 200
    )
    schema = signed_in.get("/api/openapi.json").json()
    assert "X-Play-Token" in json.dumps(schema["components"]["securitySchemes"])


@pytest.mark.django_db(transaction=True)
def test_a_flush_locks_only_the_progress_rows_it_writes(
    hot, learner, other_learner, chapter, enrolment, annual, now
):
    """A batch holds learner A on chapter 1 and learner B on chapter 2; A's progress on chapter 2
    is not in it, so a flush must neither load nor wait for it (PostgreSQL: a row held by
    another transaction would block it)."""
    from django.db import connection, connections

    from cpe.catalog.models import Chapter
    from cpe.orders.gateways.base import PaymentNotice
    from cpe.orders.services import order_create, payment_confirm

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    chapter2 = Chapter.objects.create(
        course=chapter.course, position=2, title="租赁准则", duration_seconds=120
    )
    order = order_create(user=other_learner, product_code=annual.code, ais_confirmed=True)
    payment_confirm(
        gateway_name="alipay",
        notice=PaymentNotice(
            order_number=order.number,
            gateway_txn_id="T" + order.number,
            amount_fen=order.amount_fen,
            paid_at=now - timedelta(minutes=1),
        ),
    )
    a_on_2 = ChapterProgress.objects.create(
        user=learner, chapter=chapter2, intervals=[[0, 10]], watched_seconds=10
    )
    a = _start(learner, chapter, now)
    b = services.play_start(
        user=other_learner, chapter_id=chapter2.pk, at=now, ip="10.0.0.2", rand=lambda: 0.5
    )
    _beat(a, sec(now, 30), 1, 0, 30)
    hotpath.beat(key=b.key, seq=1, start=0, position=30, ip="10.0.0.2", at=sec(now, 30))

    held, release = threading.Event(), threading.Event()

    def hold():
        from django.db import transaction

        try:
            with transaction.atomic():
                ChapterProgress.objects.select_for_update().get(pk=a_on_2.pk)
                held.set()
                release.wait(30)
        finally:
            connections.close_all()

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(10)
        with connection.cursor() as c:
            c.execute("SET lock_timeout = '3s'")
        assert hot.flush_keys([a.key, b.key]) == 2
    finally:
        release.set()
        t.join()
        with connection.cursor() as c:
            c.execute("SET lock_timeout = 0")
    assert _stored(learner, chapter).intervals == [[0, 30]]
    assert _stored(other_learner, chapter2).intervals == [[0, 30]]
    assert ChapterProgress.objects.get(pk=a_on_2.pk).intervals == [[0, 10]]
