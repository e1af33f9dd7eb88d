"""The web session store (decision 0018): sessions in the database keyed by the keyed hash of the
session key, with the session cache (Redis) in front. A cache that is away is never read as "no
session": the learner stays signed in, nothing answers 500, the cookie is kept; once the cache is
back it serves again. Whatever a stale cache copy says after an outage, a signed-out session stays
signed out (the user row decides)."""

import shutil
import subprocess
import time

import pytest
from django.conf import settings
from django.contrib.sessions.backends.cache import SessionStore as LegacyStore
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cpe.accounts import sessions
from cpe.accounts.models import StoredSession, User
from cpe.accounts.tests.factories import point_session_cache
from cpe.core import crypto
from cpe.core.tests.ports import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.urls("cpe.core.tests.urls_trivial")]
PW = "Zhang-san-2026"
needs_cache = pytest.mark.skipif(
    not settings.SESSION_CACHE_ALIAS, reason="no session cache (REDIS_URL unset)"
)


@pytest.fixture(autouse=True)
def _fresh_cache_state(monkeypatch):
    monkeypatch.setattr(sessions, "CACHE_BACKOFF_SECONDS", 0.0)  # each request tries the cache again
    sessions.outage.reset()
    yield
    sessions.outage.reset()


def _raw_client():
    return caches["sessions"]._cache.get_client()


def _raw_copy(h):
    """The session copy as Redis holds it (over the plain socket it names its user in front of the
    cache's serialization: cpe.accounts.sessions)."""
    return _raw_client().get(caches["sessions"].make_key(sessions.CACHE_PREFIX + h))


def _sign_in(learner) -> Client:
    c = Client()
    r = c.post(reverse("accounts:login"), {"username": learner.mobile, "password": PW})
    assert r.status_code == 302 and "/accounts/login/" not in r["Location"]
    assert c.get("/trivial/").json() == {"signed_in": True}  # the agreement gate's one write
    return c


def _signed_in(c: Client) -> bool:
    r = c.get("/trivial/")
    assert r.status_code == 200, r.status_code
    assert "sessionid" not in r.cookies, "the cookie was set again or dropped"
    return r.json()["signed_in"]


def test_the_database_holds_the_session_under_a_keyed_hash_never_the_key(register_learner):
    learner = register_learner()
    c = _sign_in(learner)
    key = c.cookies["sessionid"].value
    row = StoredSession.objects.get()
    assert row.key_hash == crypto.blind_index("web_session", key) == sessions.key_hash(key)
    assert key not in row.key_hash and key not in row.session_data
    # Not the single-session column's value either (another purpose, another hash).
    assert row.key_hash != User.objects.values_list("session_key_hash", flat=True).get(pk=learner.pk)
    # Nor is it in a cache key name.
    if settings.SESSION_CACHE_ALIAS:
        client = caches[settings.SESSION_CACHE_ALIAS]._cache.get_client()
        names = [k.decode() for k in client.keys("*")]
        assert names and not any(key in n for n in names)


def test_a_stolen_row_is_not_a_session(register_learner):
    learner = register_learner()
    victim = _sign_in(learner)
    attacker = Client()
    attacker.cookies["sessionid"] = StoredSession.objects.get().key_hash
    assert attacker.get("/trivial/").json() == {"signed_in": False}
    assert _signed_in(victim)


@needs_cache
def test_the_signed_in_request_reads_the_cache_and_the_database_only_on_a_miss(register_learner):
    learner = register_learner()
    c = _sign_in(learner)
    with CaptureQueriesContext(connection) as hit:
        assert _signed_in(c)
    assert [q["sql"] for q in hit.captured_queries if "accounts_storedsession" in q["sql"]] == []
    caches[settings.SESSION_CACHE_ALIAS].clear()  # the copy is gone (Redis restarted empty)
    with CaptureQueriesContext(connection) as miss:
        assert _signed_in(c)
    reads = [q["sql"] for q in miss.captured_queries if "accounts_storedsession" in q["sql"]]
    assert len(reads) == 1 and reads[0].lstrip().upper().startswith("SELECT")
    with CaptureQueriesContext(connection) as again:  # filled again on the miss
        assert _signed_in(c)
    assert not [q for q in again.captured_queries if "accounts_storedsession" in q["sql"]]


@needs_cache
def test_a_session_cache_on_a_closed_port_keeps_the_learner_signed_in(settings, register_learner):
    learner = register_learner()
    c = _sign_in(learner)
    working = settings.CACHES["sessions"]["LOCATION"]
    point_session_cache(settings, f"redis://127.0.0.1:{free_port()}/0")
    for _ in range(3):
        with CaptureQueriesContext(connection) as ctx:
            assert _signed_in(c)
        sql = [q["sql"] for q in ctx.captured_queries]
        # The session row and the user, read; nothing written.
        assert len(sql) == 2 and all(q.lstrip().upper().startswith("SELECT") for q in sql), sql
        assert sum("accounts_storedsession" in q for q in sql) == 1
    r = c.get(reverse("accounts:dashboard"))
    assert r.status_code == 200 and "sessionid" not in r.cookies
    point_session_cache(settings, working)  # the cache is back
    assert _signed_in(c)
    assert c.get(reverse("accounts:dashboard")).status_code == 200


@needs_cache
def test_signing_in_and_out_while_the_cache_is_away(settings, register_learner):
    learner = register_learner()
    working = settings.CACHES["sessions"]["LOCATION"]
    point_session_cache(settings, f"redis://127.0.0.1:{free_port()}/0")
    c = _sign_in(learner)
    assert _signed_in(c)
    point_session_cache(settings, working)
    assert _signed_in(c)
    assert c.post(reverse("accounts:logout")).status_code == 302
    assert c.get("/trivial/").json() == {"signed_in": False}


@needs_cache
def test_a_session_ended_while_the_cache_was_away_stays_ended_when_it_returns(settings, register_learner):
    """The cache comes back holding the copy it had before the outage (Redis restarted from its
    append-only file): the sign-out that happened meanwhile still holds."""
    learner = register_learner()
    c = _sign_in(learner)
    key = c.cookies["sessionid"].value
    stolen = Client()
    stolen.cookies["sessionid"] = key  # a copy of the cookie
    assert _signed_in(stolen)
    h = sessions.key_hash(key)
    copy = _raw_copy(h)
    assert copy is not None
    working = settings.CACHES["sessions"]["LOCATION"]
    point_session_cache(settings, f"redis://127.0.0.1:{free_port()}/0")
    assert c.post(reverse("accounts:logout")).status_code == 302
    assert not StoredSession.objects.filter(key_hash=h).exists()
    point_session_cache(settings, working)
    assert _raw_copy(h) == copy  # the stale copy
    # This process drops what it could not tell the cache as soon as the cache answers.
    assert stolen.get("/trivial/").json() == {"signed_in": False}
    assert _raw_copy(h) is None
    # Another process (or node) does not know: its copy is put back. The user row refuses it.
    _raw_client().set(caches["sessions"].make_key(sessions.CACHE_PREFIX + h), copy, ex=600)
    stolen.cookies["sessionid"] = key  # the browser was told to drop it; the copy keeps it
    r = stolen.get("/trivial/")
    assert r.status_code == 302 and "ended=signed_out" in r["Location"]
    assert stolen.get("/trivial/").json() == {"signed_in": False}


def test_a_session_of_an_account_with_no_current_session_is_refused(register_learner):
    learner = register_learner()
    c = _sign_in(learner)
    User.objects.filter(pk=learner.pk).update(session_key_hash="")  # signed out elsewhere
    r = c.get(reverse("accounts:dashboard"))
    assert r.status_code == 302 and r["Location"].endswith("?ended=signed_out")
    assert "退出登录" in Client().get(r["Location"]).content.decode()
    r = c.get("/trivial/", HTTP_HX_REQUEST="true")
    assert r.json() == {"signed_in": False}


@needs_cache
def test_a_session_from_before_the_change_is_moved_into_the_store(register_learner):
    """Sessions that lived only in the Redis cache (Django's cache backend, raw key) keep working
    after the deploy, and move into the database under the keyed hash."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from cpe.accounts import services

    learner = register_learner()
    old = LegacyStore()
    old._cache = caches["sessions"]
    old[SESSION_KEY], old[BACKEND_SESSION_KEY] = str(learner.pk), "cpe.accounts.auth.IdentifierBackend"
    old[HASH_SESSION_KEY] = learner.get_session_auth_hash()
    old.create()
    services.session_key_rotated(user=learner, session_key=old.session_key)
    c = Client()
    c.cookies["sessionid"] = old.session_key
    r = c.get("/trivial/")  # the agreement gate remembers the accepted version: one write
    assert r.json() == {"signed_in": True} and r.cookies["sessionid"].value == old.session_key
    assert StoredSession.objects.filter(key_hash=sessions.key_hash(old.session_key)).exists()
    assert caches["sessions"].get(sessions.LEGACY_CACHE_PREFIX + old.session_key) is None
    assert _signed_in(c)


def test_expired_sessions_are_cleared(register_learner):
    from datetime import timedelta

    from django.utils import timezone

    from cpe.accounts.tasks import sessions_clear_expired

    learner = register_learner()
    c = _sign_in(learner)
    StoredSession.objects.create(
        key_hash="0" * 64, session_data="x", expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert sessions_clear_expired() == {"deleted": 1}
    assert StoredSession.objects.count() == 1 and _signed_in(c)


def test_without_a_session_cache_the_database_alone_serves(settings, register_learner):
    settings.SESSION_CACHE_ALIAS = None
    learner = register_learner()
    c = _sign_in(learner)
    with CaptureQueriesContext(connection) as ctx:
        assert _signed_in(c)
    assert len([q for q in ctx.captured_queries if "accounts_storedsession" in q["sql"]]) == 1


@pytest.mark.skipif(
    not settings.SESSION_CACHE_ALIAS or not shutil.which("redis-server"), reason="needs redis-server"
)
def test_a_real_redis_stopped_and_started_again(settings, register_learner, tmp_path):
    """A Redis of its own as the session cache: stopped (the learner stays signed in, the pages
    answer), started again empty (it is filled from the database), stopped and started once
    more."""
    import redis

    port = free_port()

    def start():
        p = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                if redis.Redis(port=port).ping():
                    return p
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(p):
        p.kill()
        p.wait()

    server = start()
    try:
        point_session_cache(settings, f"redis://127.0.0.1:{port}/0")
        learner = register_learner()
        c = _sign_in(learner)
        assert redis.Redis(port=port).dbsize() >= 1  # the copy is there
        stop(server)
        for _ in range(3):
            assert _signed_in(c)
        assert c.get(reverse("accounts:dashboard")).status_code == 200
        server = start()
        assert _signed_in(c)
        assert redis.Redis(port=port).dbsize() >= 1  # filled again
        stop(server)
        assert _signed_in(c)
        server = start()
        assert _signed_in(c)
        assert c.get(reverse("accounts:dashboard")).status_code == 200
    finally:
        stop(server)


@needs_cache
def test_after_a_cache_error_the_process_leaves_the_cache_alone_for_a_while(
    settings, register_learner, monkeypatch
):
    """An unreachable host would cost every request a connect timeout: after one error the
    process reads the database for CACHE_BACKOFF_SECONDS, then tries the cache again."""
    learner = register_learner()
    c = _sign_in(learner)
    monkeypatch.setattr(sessions, "CACHE_BACKOFF_SECONDS", 3600.0)
    working = settings.CACHES["sessions"]["LOCATION"]
    point_session_cache(settings, f"redis://127.0.0.1:{free_port()}/0")
    assert _signed_in(c)  # the error
    point_session_cache(settings, working)

    def session_reads():
        with CaptureQueriesContext(connection) as ctx:
            assert _signed_in(c)
        return sum("accounts_storedsession" in q["sql"] for q in ctx.captured_queries)

    assert session_reads() == 1  # backing off: the database, though the cache answers again
    sessions.outage.skip_until = 0.0  # the back-off is over (not monkeypatch: its undo would restore it)
    assert session_reads() == 0
