"""The heartbeat's door (config/hotpath_wsgi.py) and Django's middleware decide host, headers,
bans and maintenance with the same functions: for the same request both doors answer alike
(rules R12 bans, R2.4 maintenance). Needs Redis, as the hot path does."""

import io
import json
from datetime import timedelta

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.utils import timezone

from cpe.learning import hotpath

from .test_hotpath import REDIS_URL, WEB_SESSION, _start

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("hot"),
    pytest.mark.skipif(not REDIS_URL, reason="the hot path needs Redis: set REDIS_URL (CI does)"),
]
BANNED = "203.0.113.9"
SECURITY = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy")


@pytest.fixture
def door(settings):
    from config.hotpath_wsgi import wrap
    from cpe.moderation.selectors import forget_bans
    from cpe.notices.selectors import forget_windows

    settings.ALLOWED_HOSTS = ["testserver"]
    forget_bans()
    forget_windows()
    request_finished.disconnect(close_old_connections)  # the test's transaction must survive
    yield wrap(lambda environ, start_response: start_response("418 I'm a teapot", []) or [b""])
    request_finished.connect(close_old_connections)
    forget_bans()  # what rolled back with the test must not stay in this process's memos
    forget_windows()


def _door(app, s, remote="10.0.0.1", scheme="http", host="testserver"):
    raw = json.dumps({"seq": 1, "start": 0, "position": 10}).encode()
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/api/learning/sessions/{s.key}/heartbeat",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        "HTTP_HOST": host,
        "REMOTE_ADDR": remote,
        "wsgi.url_scheme": scheme,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "443" if scheme == "https" else "80",
        "HTTP_X_PLAY_TOKEN": hotpath.play_token(s.key),
        "HTTP_COOKIE": f"sessionid={WEB_SESSION}",
    }
    got = {}
    out = b"".join(app(env, lambda status, headers: got.update(status=status, headers=dict(headers))))
    return int(got["status"][:3]), got["headers"], json.loads(out)


def _django(client, s, remote="10.0.0.1", secure=False):
    r = client.post(
        f"/api/learning/sessions/{s.key}/heartbeat",
        {"seq": 1, "start": 0, "position": 10},
        content_type="application/json",
        headers={"X-Play-Token": hotpath.play_token(s.key)},
        REMOTE_ADDR=remote,
        secure=secure,
    )
    return r.status_code, r.headers, r.json()


@pytest.mark.parametrize("secure", [False, True])
def test_the_same_security_headers(door, client, settings, learner, chapter, enrolment, secure):
    settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = 3600, True
    s = _start(learner, chapter, timezone.now() - timedelta(seconds=50))
    status, headers, _ = _door(door, s, scheme="https" if secure else "http")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    _, dj, _ = _django(client, s, secure=secure)
    names = SECURITY + (("Strict-Transport-Security",) if secure else ())
    assert {n: headers.get(n) for n in names} == {n: dj.get(n) for n in names}
    assert all(headers.get(n) for n in names)
    assert ("Strict-Transport-Security" in headers) is secure


def test_the_same_host_check(door, client, settings, learner, chapter, enrolment):
    s = _start(learner, chapter, timezone.now() - timedelta(seconds=50))
    assert _door(door, s, host="evil.example")[0] == 400
    assert client.post("/", HTTP_HOST="evil.example").status_code == 400  # Django's DisallowedHost
    settings.ALLOWED_HOSTS, settings.DEBUG = [], True  # Django's own defaults while debugging
    assert _door(door, s, host="localhost:8000")[0] == 200
    assert _door(door, s, host="evil.example")[0] == 400


def test_the_same_ban_answer(door, client, django_user_model, learner, chapter, enrolment):
    from cpe.moderation import services

    operator = django_user_model.objects.create_user(
        username="op", password="Staff-pass-2026", is_staff=True, name="运营"
    )
    services.ban_network(network="203.0.113.0/24", reason="刷课", actor=operator)
    s = _start(learner, chapter, timezone.now() - timedelta(seconds=50))
    status, _, body = _door(door, s, remote=BANNED)
    assert (status, body) == _django(client, s, remote=BANNED)[::2]
    assert status == 403 and body["code"] == "banned_network" and body["reason"] == "刷课"


def test_the_same_maintenance_answer(door, client, learner, chapter, enrolment):
    from cpe.notices.models import Announcement

    s = _start(learner, chapter, timezone.now() - timedelta(seconds=50))
    now = timezone.now()
    Announcement.objects.create(
        kind="maintenance",
        title="系统维护公告",
        body="维护",
        audience="all",
        maintenance_start=now - timedelta(minutes=5),
        maintenance_end=now + timedelta(minutes=30),
        published_at=now - timedelta(days=1),
    )
    status, headers, body = _door(door, s)
    dj_status, dj_headers, dj_body = _django(client, s)
    assert (status, body) == (dj_status, dj_body) and body["code"] == "maintenance"
    assert (
        60 <= int(headers["Retry-After"]) <= 30 * 60
        and abs(int(headers["Retry-After"]) - int(dj_headers["Retry-After"])) <= 1
    )
