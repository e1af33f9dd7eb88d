"""The signed-in user's row cached in Redis next to the session copy (cpe.accounts.user_rows).

What a learner relies on: whatever ends or changes a session through the user row takes effect at
the learner's next request, though that request reads the row from Redis and not from PostgreSQL
(a sign-in elsewhere, sign-out, a password change, closing, termination, is_active, staff flags);
Redis holds what the table holds (ciphertext, never the clear ID number, mobile or e-mail); a
reader that read the row before a write commits never puts the old row back; a Redis that is
away costs a query, never a 500, and what could not be told to it is told before this process
uses it again.

Each test first makes the row come from the cache (`_warm`: the request makes no statement), so
the change it then makes is seen only if the write told the cache."""

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cpe.accounts import sessions, user_rows
from cpe.accounts.models import User
from cpe.accounts.tests.factories import point_session_cache
from cpe.agreements.models import AgreementAcceptance
from cpe.core.tests.ports import free_port

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("cpe.core.tests.urls_trivial"),
    pytest.mark.skipif(not settings.SESSION_CACHE_ALIAS, reason="no session cache (REDIS_URL unset)"),
]
PW = "Zhang-san-2026"


@pytest.fixture(autouse=True)
def _fresh_cache_state(monkeypatch):
    monkeypatch.setattr(sessions, "CACHE_BACKOFF_SECONDS", 0.0)  # each request tries the cache again
    sessions.outage.reset()
    yield
    sessions.outage.reset()


def _raw_row(pk):
    cache = caches[settings.SESSION_CACHE_ALIAS]
    return cache._cache.get_client().get(sessions.user_row_prefix(cache) + str(pk))


def _drop_row(pk):
    """As if the key had expired (the registration's writes left a tombstone)."""
    cache = caches[settings.SESSION_CACHE_ALIAS]
    cache._cache.get_client().delete(sessions.user_row_prefix(cache) + str(pk))


def _user_reads(queries):
    """The read of the request's user by primary key (cpe.core.rows.PkReader's statement)."""
    return [q for q in queries if 'FROM "accounts_user" WHERE "id" = ' in q["sql"]]


def _sign_in(learner) -> Client:
    c = Client()
    r = c.post(reverse("accounts:login"), {"username": learner.mobile, "password": PW})
    assert r.status_code == 302 and "/accounts/login/" not in r["Location"]
    assert c.get("/trivial/").json() == {"signed_in": True}  # the agreement gate's one write
    return c


def _warm(c: Client, path="/trivial/"):
    """Requests until the user's row is served from the cache: the last one makes no query of
    the users table."""
    c.get(path)
    with CaptureQueriesContext(connection) as ctx:
        r = c.get(path)
    assert r.status_code == 200, r.status_code
    assert not _user_reads(ctx.captured_queries), ctx.captured_queries
    return r


@pytest.fixture
def learner(register_learner):
    return register_learner()


# --- what Redis holds ----------------------------------------------------------------------------
def test_redis_holds_the_row_as_the_table_stores_it_never_the_clear_personal_data(learner):
    c = _sign_in(learner)
    _warm(c)
    raw = _raw_row(learner.pk)
    assert raw is not None and raw[:1] == b"R"
    text = raw.decode()
    for clear in (learner.mobile, learner.id_number, learner.email):
        assert clear and clear not in text
    with connection.cursor() as cur:
        cur.execute(
            "SELECT mobile, id_number, email, password FROM accounts_user WHERE id = %s", [learner.pk]
        )
        stored = cur.fetchone()
    for value in stored:  # the ciphertexts and the password hash, as the table holds them
        assert value and value in text


def test_the_cached_row_gives_the_instance_the_orm_gives(learner):
    from cpe.accounts.auth import IdentifierBackend

    first = IdentifierBackend().get_user(learner.pk)  # from PostgreSQL, put into the cache
    assert _raw_row(learner.pk)[:1] == b"R"
    with CaptureQueriesContext(connection) as ctx:
        cached = IdentifierBackend().get_user(learner.pk)
    assert ctx.captured_queries == []
    orm = User.objects.get(pk=learner.pk)
    for f in User._meta.concrete_fields:
        assert getattr(cached, f.attname) == getattr(orm, f.attname) == getattr(first, f.attname), f.name
    assert cached.mobile == learner.mobile and cached.id_number == learner.id_number
    assert cached._state.adding is False and cached._state.db == "default"
    assert cached.check_password(PW)


def test_personal_data_on_the_cached_user_is_decrypted_only_when_read(learner, monkeypatch):
    """The signed-in user's row is read on every request; most requests never show its personal
    data, so its encrypted columns are decrypted when first read, once, and never otherwise. A
    save of such an instance keeps every column's value."""
    from cpe.accounts.auth import IdentifierBackend
    from cpe.core import crypto

    IdentifierBackend().get_user(learner.pk)  # from PostgreSQL, put into the cache
    calls = []
    decrypt = crypto.decrypt
    monkeypatch.setattr(crypto, "decrypt", lambda token, aad: calls.append(aad) or decrypt(token, aad))
    cached = IdentifierBackend().get_user(learner.pk)
    assert calls == [] and cached.is_active and cached.session_key_hash == learner.session_key_hash
    assert cached.mobile == learner.mobile and cached.mobile == learner.mobile
    assert calls == ["accounts.user.mobile"]  # once, for the column read
    assert "<Sealed>" in repr(cached.__dict__["id_number"])  # never read: still sealed
    cached.last_login = None
    cached.save()  # every column written back, the sealed ones decrypted and encrypted again
    fresh = User.objects.get(pk=learner.pk)
    assert (fresh.id_number, fresh.mobile, fresh.email) == (learner.id_number, learner.mobile, learner.email)
    assert fresh.name == learner.name and fresh.last_login is None


# --- every change of the row at the next request --------------------------------------------------
def test_a_sign_in_elsewhere_ends_the_session_at_its_next_request(learner):
    a = _sign_in(learner)
    _warm(a)
    _sign_in(learner)  # another browser
    r = a.get("/trivial/")
    assert r.status_code == 302 and "ended=elsewhere" in r["Location"]


def test_a_signed_out_session_put_back_by_a_stale_copy_stays_signed_out(learner):
    """Decision 0018: another process may put back the session copy of a signed-out session;
    the user row, now read from the cache, still says the account has no current session."""
    c = _sign_in(learner)
    _warm(c)
    key = c.cookies["sessionid"].value
    cache = caches[settings.SESSION_CACHE_ALIAS]
    copy_key = cache.make_key(sessions.CACHE_PREFIX + sessions.key_hash(key))
    copy = cache._cache.get_client().get(copy_key)
    assert c.post(reverse("accounts:logout")).status_code == 302
    cache._cache.get_client().set(copy_key, copy, ex=600)
    stolen = Client()
    stolen.cookies["sessionid"] = key
    r = stolen.get("/trivial/")
    assert r.status_code == 302 and "ended=signed_out" in r["Location"]


def test_a_password_changed_elsewhere_signs_the_session_out(learner):
    """Django checks the session against a hash of the password hash, read from the row."""
    c = _sign_in(learner)
    _warm(c)
    user = User.objects.get(pk=learner.pk)
    user.set_password("Another-pass-2026")
    user.save(update_fields=["password"])
    assert c.get("/trivial/").json() == {"signed_in": False}


def test_a_terminated_account_is_signed_out_at_its_next_request(learner, django_user_model):
    from cpe.accounts.services import account_terminate

    c = _sign_in(learner)
    _warm(c)
    account_terminate(user=User.objects.get(pk=learner.pk), reason="unreachable")
    r = c.get("/trivial/")  # the termination page, once (moderation's BanMiddleware)
    assert r.status_code == 403 and "终止服务" in r.content.decode()
    assert c.get("/trivial/").json() == {"signed_in": False}


def test_a_closed_account_is_signed_out_at_its_next_request(learner):
    from cpe.accounts import closing

    c = _sign_in(learner)
    _warm(c)
    closing.account_close(user=User.objects.get(pk=learner.pk), password=PW, confirmed=True)
    assert not User.objects.filter(pk=learner.pk).exists()  # never paid: deleted
    assert c.get("/trivial/").json() == {"signed_in": False}


@pytest.mark.parametrize(
    "write",
    [
        lambda pk: User.objects.filter(pk=pk).update(is_active=False),
        lambda pk: User.objects.filter(username=User.objects.get(pk=pk).username).update(is_active=False),
        lambda pk: User.objects.filter(pk__in=[pk, pk + 1000]).update(is_active=False),
        lambda pk: User.objects.bulk_update([User(pk=pk, is_active=False)], ["is_active"]),
        lambda pk: (
            AgreementAcceptance.objects.filter(user_id=pk).delete(),
            User.objects.filter(is_staff=False, pk__gte=pk).delete(),
        ),
    ],
    ids=["update by pk", "update by another filter", "update by pk list", "bulk_update", "queryset delete"],
)
def test_every_queryset_write_is_seen_at_the_next_request(learner, write):
    c = _sign_in(learner)
    _warm(c)
    write(learner.pk)
    assert c.get("/trivial/").json() == {"signed_in": False}


def test_a_staff_member_no_longer_staff_loses_the_admin_at_the_next_request(django_user_model):
    staff = django_user_model.objects.create_user(
        username="op", password="Staff-pass-2026", is_staff=True, is_superuser=True, name="运营"
    )
    c = Client()
    c.force_login(staff)  # with the second factor passed (the test helper)
    _warm(c, "/admin/")
    User.objects.filter(pk=staff.pk).update(is_staff=False)
    r = c.get("/admin/")
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_a_staff_second_factor_reset_asks_for_it_again_at_the_next_request(django_user_model):
    from cpe.accounts import second_factor

    boss = django_user_model.objects.create_user(
        username="boss", password="Staff-pass-2026", is_staff=True, is_superuser=True, name="主管"
    )
    staff = django_user_model.objects.create_user(
        username="op", password="Staff-pass-2026", is_staff=True, is_superuser=True, name="运营"
    )
    c = Client()
    c.force_login(staff)
    _warm(c, "/admin/")
    assert second_factor.reset(actor=boss, user=staff)
    r = c.get("/admin/")
    assert r.status_code == 302
    assert r["Location"].startswith(reverse("accounts:second_factor_setup"))  # no factor now: enrol


# --- the fill never puts an old row back ---------------------------------------------------------
def test_a_reader_that_read_before_a_write_does_not_put_the_old_row_back(learner):
    """A reader missed (nothing cached), read the row, and fills only after a write committed and
    forgot it: its fill is refused, the next read is the new row."""
    _drop_row(learner.pk)
    old = user_rows._reader.raw(learner.pk)  # the reader's read of PostgreSQL
    User.objects.filter(pk=learner.pk).update(is_active=False)  # the write, and its forget
    user_rows._fill(learner.pk, b"", old, None)  # the reader's fill, after it
    assert _raw_row(learner.pk)[:1] == b"T"  # still the tombstone
    assert user_rows.get(learner.pk).is_active is False


def test_a_reader_that_saw_a_tombstone_fills_unless_another_write_came(learner):
    User.objects.filter(pk=learner.pk).update(employer="甲")
    seen = _raw_row(learner.pk)
    assert seen[:1] == b"T"
    old = user_rows._reader.raw(learner.pk)
    User.objects.filter(pk=learner.pk).update(employer="乙")  # a second write: a new tombstone
    user_rows._fill(learner.pk, seen, old, None)
    assert _raw_row(learner.pk)[:1] == b"T"
    user_rows.get(learner.pk)  # sees the new tombstone, reads, fills
    assert _raw_row(learner.pk)[:1] == b"R"
    assert user_rows.get(learner.pk).employer == "乙"


def test_a_row_put_back_before_the_commit_is_forgotten_again_at_the_commit(
    learner, django_capture_on_commit_callbacks
):
    """Inside the writer's transaction another process still reads the old row from PostgreSQL
    and may fill it over the first tombstone; the commit forgets it again."""
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            User.objects.filter(pk=learner.pk).update(is_active=False)
            seen = _raw_row(learner.pk)
            stale = user_rows._reader.raw(learner.pk)
            stale[[f.attname for f in User._meta.concrete_fields].index("is_active")] = True
            user_rows._fill(learner.pk, seen, stale, None)  # another process, before the commit
            assert user_rows.get(learner.pk).is_active is True
    assert user_rows.get(learner.pk).is_active is False


def test_a_late_fill_is_not_made(learner, monkeypatch):
    """A fill later than half a tombstone's life after its look is not attempted: the tombstone
    that would refuse it may be gone."""
    import time

    _drop_row(learner.pk)
    look = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: look + user_rows.TOMBSTONE_SECONDS)
    look_ = sessions.UserRowLook()
    look_.user_id, look_.value, look_.at = str(learner.pk), None, look
    token = sessions.WANT_USER_ROW.set(look_)
    try:
        assert user_rows.get(learner.pk).pk == learner.pk
    finally:
        sessions.WANT_USER_ROW.reset(token)
    assert _raw_row(learner.pk) is None


# --- Redis away ----------------------------------------------------------------------------------


def test_with_redis_away_the_row_is_read_from_postgresql_and_a_write_is_told_when_it_returns(
    settings, learner
):
    c = _sign_in(learner)
    _warm(c)
    working = settings.CACHES["sessions"]["LOCATION"]
    point_session_cache(settings, f"redis://127.0.0.1:{free_port()}/0")
    with CaptureQueriesContext(connection) as ctx:
        r = c.get("/trivial/")
    assert r.status_code == 200 and r.json() == {"signed_in": True}  # never a 500
    assert _user_reads(ctx.captured_queries)  # read from PostgreSQL
    User.objects.filter(pk=learner.pk).update(is_active=False)  # the forget cannot be sent
    assert ("ur", learner.pk) in sessions.outage.stale
    point_session_cache(settings, working)
    assert _raw_row(learner.pk)[:1] == b"R"  # the old row: Redis was never told
    # This process tells it before using the cache again.
    assert c.get("/trivial/").json() == {"signed_in": False}
    assert not sessions.outage.stale


# --- the session hash, remembered per process ----------------------------------------------------
def test_the_remembered_session_hash_is_djangos_and_follows_the_password_and_the_key(learner, settings):
    from django.contrib.auth.base_user import AbstractBaseUser

    user = User.objects.get(pk=learner.pk)
    assert user.get_session_auth_hash() == AbstractBaseUser.get_session_auth_hash(user)
    before = user.get_session_auth_hash()
    user.set_password("Another-pass-2026")
    assert user.get_session_auth_hash() != before
    assert user.get_session_auth_hash() == AbstractBaseUser.get_session_auth_hash(user)
    settings.SECRET_KEY = "another-test-key-not-a-secret"
    assert user.get_session_auth_hash() == AbstractBaseUser.get_session_auth_hash(user)


def test_a_forget_refused_by_a_full_redis_deletes_the_row(learner, monkeypatch):
    """Redis runs with `noeviction`: when its memory is full it refuses writes (the tombstone)
    but not DEL, and refuses every fill too, so deleting the row is enough then."""
    from cpe.core import redis_wire

    user_rows.get(learner.pk)
    user_rows.get(learner.pk)
    assert _raw_row(learner.pk)[:1] == b"R"
    real = redis_wire.Wire.evalsha

    def full(self, script, keys, args, *, idempotent):
        if script is user_rows._FORGET:
            raise redis_wire.ReplyError("redis: OOM command not allowed when used memory > 'maxmemory'.")
        return real(self, script, keys, args, idempotent=idempotent)

    monkeypatch.setattr(redis_wire.Wire, "evalsha", full)
    User.objects.filter(pk=learner.pk).update(is_active=False)
    assert _raw_row(learner.pk) is None
    assert not sessions.outage.stale and not sessions.outage.backing_off()
