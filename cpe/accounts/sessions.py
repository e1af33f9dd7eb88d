"""The web session store (decision 0018): sessions in PostgreSQL, read through Redis.

``SESSION_ENGINE = "cpe.accounts.sessions"``. The database row is the session; the cache
(``SESSION_CACHE_ALIAS``, Redis in production, ``None`` in the embedded default) holds a copy
in front of it, so a signed-in request reads Redis only and the database only on a miss.

A cache that fails (Redis restarting, unreachable, timing out) is never read as "no session":
the store logs it, reads and writes the database instead and skips the cache for
``CACHE_BACKOFF_SECONDS`` in this process (so an unreachable host does not cost every request
a timeout). A session written or deleted while the cache could not be told is remembered in
this process and dropped from the cache as soon as the cache answers again; whatever a stale
copy could still say after that, the user row decides (a signed-out, superseded, closed or
banned account's session is refused there: ``SingleSessionMiddleware``, ``BanMiddleware``).

Both copies are keyed by ``crypto.blind_index("web_session", <key>)``; the key itself is only
ever in the browser's cookie. The row holds Django's signed session data (the account id and
the hash Django derives from the password hash, the staff second factor's device, small state)."""

import logging
import time
from contextvars import ContextVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.core.cache import caches
from django.db import DatabaseError, IntegrityError, router, transaction
from django.utils import timezone

from cpe.core import crypto, redis_wire
from cpe.core.cache import Outage, wire_of

log = logging.getLogger(__name__)

CACHE_PREFIX = "ws:"  # the cache's own KEY_PREFIX goes in front of it
# Before decision 0018 sessions lived in the cache only, under Django's cache backend's key (the
# raw session key). A cookie the store does not know is looked up there once and moved into the
# store, so the switch signs nobody out. Remove once SESSION_COOKIE_AGE has passed since deploy.
LEGACY_CACHE_PREFIX = "django.contrib.sessions.cache"
CACHE_BACKOFF_SECONDS = 5.0


def key_hash(session_key: str) -> str:
    return crypto.blind_index("web_session", session_key)


# Per process: the back-off after a cache failure, and what the cache may hold stale because this
# process could not tell it (cpe.core.cache.Outage): "ws" items are session copies to delete,
# "ur" items user rows to forget (cpe.accounts.user_rows registers its own). Public, with
# `session_cache` and `CacheUnavailable`, because the user row cache shares them (decision 0021).
outage = Outage("session cache")


def _forget_copies(hashes):
    caches[settings.SESSION_CACHE_ALIAS].delete_many([CACHE_PREFIX + h for h in hashes])


outage.flushers["ws"] = _forget_copies


class CacheUnavailable(Exception):
    """The session cache is backing off after a failure, or failed now: use PostgreSQL."""


def session_cache():
    """The session cache, or None when there is none. Raises CacheUnavailable while backing off,
    and when what this process could not tell the cache earlier cannot be told now either."""
    alias = getattr(settings, "SESSION_CACHE_ALIAS", None)
    if not alias:
        return None
    if not outage.ready(backoff=CACHE_BACKOFF_SECONDS):
        raise CacheUnavailable
    return caches[alias]


def _cache_call(fn, *, hashes=()):
    """fn(cache) or None when there is no cache; CacheUnavailable when it failed (hashes remembered)."""
    items = [("ws", h) for h in hashes]
    try:
        cache = session_cache()
    except CacheUnavailable:
        outage.remember(items)
        raise
    if cache is None:
        return None
    try:
        return fn(cache)
    except Exception as exc:  # noqa: BLE001 - redis-py's errors, OSError, timeouts alike
        outage.failed(exc, items, backoff=CACHE_BACKOFF_SECONDS)
        raise CacheUnavailable from exc


# --- the session copy and its user's row in one round trip ---------------------------------------
# Over the plain socket (a Django Redis cache on one redis:// server) the copy is written as
# b"u<user id>\n" + the cache's serialized session (the id only for a signed-in session), so one
# script can read the copy and the row of the user it names (cpe.accounts.user_rows, keys
# USER_ROW_PREFIX + id under the cache's key prefix). Any other cache holds the session itself.
USER_ROW_PREFIX = "ur:"
_SESSION_AND_USER_ROW = redis_wire.Script(
    r"""local s = redis.call('GET', KEYS[1])
if not s then return false end
local uid = string.match(s, '^u(%d+)\n')
if not uid then return {s} end
return {s, redis.call('GET', ARGV[1] .. uid)}"""
)


class UserRowLook:
    """What the session read saw of the cached row of the session's user: set for the request by
    cpe.accounts.middleware.OTPMiddleware through WANT_USER_ROW, filled by the session read, used
    once by IdentifierBackend.get_user (cpe.accounts.user_rows.get) and dropped by a write of the
    row (user_rows.forget). `user_id` stays None when the read did not look (no copy, another
    cache, a failure)."""

    __slots__ = ("user_id", "value", "at")

    def __init__(self):
        self.user_id = self.value = None
        self.at = 0.0


WANT_USER_ROW: ContextVar["UserRowLook | None"] = ContextVar("want_user_row", default=None)


def user_row_prefix(cache) -> str:
    return cache.make_key(USER_ROW_PREFIX)


def _cache_get(cache, key):
    """The cache's `get(key)`, for the read every signed-in request makes: when the session cache
    is Django's Redis cache on one `redis://` server, one GET over a plain socket per thread
    (cpe.core.redis_wire, with the cache's own socket timeout) and the cache's own key and
    serializer, so the value is the one `cache.get` returns at a fraction of redis-py's CPU, or,
    in a request that will ask for its user (WANT_USER_ROW), one script that also returns the
    cached row of the user the copy names; any other cache, its own `get`. A failure raises like
    the cache's would (the caller then reads the database and backs off)."""
    wire = wire_of(cache)
    if wire is None:
        return cache.get(key)
    full = cache.make_key(key)  # the key is ours (hex): no memcached-style validation needed
    look = WANT_USER_ROW.get()
    if look is None:
        raw = redis_wire.Wire._checked(wire.call(["GET", full], idempotent=True))
        row = None
    else:
        reply = wire.evalsha(_SESSION_AND_USER_ROW, [full], [user_row_prefix(cache)], idempotent=True)
        raw, row = (None, None) if reply is None else (reply[0], reply[1] if len(reply) > 1 else None)
    if raw is None:
        return None
    user_id = None
    if raw[:1] == b"u":
        end = raw.index(b"\n")
        user_id, raw = raw[1:end].decode("ascii"), raw[end + 1 :]
    if look is not None and user_id is not None:
        look.user_id, look.value, look.at = user_id, row, time.monotonic()
    return cache._cache._serializer.loads(raw)


def _cache_put(cache, key, data, seconds: int):
    wire = wire_of(cache)
    if wire is None:
        return cache.set(key, data, seconds)
    value = cache._cache._serializer.dumps(data)
    user_id = str(data.get("_auth_user_id") or "")
    if user_id.isdigit() and user_id.isascii():
        value = b"u" + user_id.encode("ascii") + b"\n" + value
    full = cache.make_key(key)
    redis_wire.Wire._checked(wire.call(["SET", full, value, "EX", seconds], idempotent=True))


class SessionStore(SessionBase):
    @classmethod
    def get_model_class(cls):
        from .models import StoredSession

        return StoredSession

    @property
    def model(self):
        return self.get_model_class()

    # --- reading ---------------------------------------------------------------------------
    def load(self):
        if not self.session_key:
            return {}
        h = key_hash(self.session_key)
        cache_up = True
        try:
            data = _cache_call(lambda c: _cache_get(c, CACHE_PREFIX + h))
        except CacheUnavailable:
            data, cache_up = None, False
        if data is not None:
            return data
        row = self.model.objects.filter(key_hash=h, expire_date__gt=timezone.now()).first()
        if row is not None:
            data = self.decode(row.session_data)
            if cache_up:
                left = (row.expire_date - timezone.now()).total_seconds()
                self._cache_set(h, data, left)
            return data
        if cache_up:
            legacy = self._legacy(self.session_key)
            if legacy is not None:
                return legacy
        self._session_key = None
        return {}

    def _legacy(self, session_key):
        """A session from before decision 0018 (cache only, raw key): moved into the store."""
        try:
            data = _cache_call(lambda c: c.get(LEGACY_CACHE_PREFIX + session_key))
        except CacheUnavailable:
            return None
        if data is None:
            return None
        self._session_cache = data
        try:
            self.save(must_create=True)
        except CreateError:
            pass  # another request moved it at the same time
        try:
            _cache_call(lambda c: c.delete(LEGACY_CACHE_PREFIX + session_key))
        except CacheUnavailable:
            pass
        return data

    def exists(self, session_key):
        return self.model.objects.filter(key_hash=key_hash(session_key)).exists()

    # --- writing ---------------------------------------------------------------------------
    def create(self):
        while True:
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        h = key_hash(self.session_key)
        row = self.model(key_hash=h, session_data=self.encode(data), expire_date=self.get_expiry_date())
        using = router.db_for_write(self.model, instance=row)
        try:
            with transaction.atomic(using=using):
                row.save(force_insert=must_create, force_update=not must_create, using=using)
        except IntegrityError as exc:
            if must_create:
                raise CreateError from exc
            raise
        except DatabaseError as exc:
            if not must_create:
                raise UpdateError from exc
            raise
        self._cache_set(h, data, self.get_expiry_age())

    def _cache_set(self, h, data, seconds):
        try:
            _cache_call(lambda c: _cache_put(c, CACHE_PREFIX + h, data, max(1, int(seconds))), hashes=(h,))
        except CacheUnavailable:
            pass

    def delete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        h = key_hash(session_key)
        self.model.objects.filter(key_hash=h).delete()
        try:
            _cache_call(lambda c: c.delete(CACHE_PREFIX + h), hashes=(h,))
        except CacheUnavailable:
            pass

    @classmethod
    def clear_expired(cls):
        """`manage.py clearsessions` and the daily beat task: rows past their expiry (the cache
        forgets its copies by itself)."""
        return cls.get_model_class().objects.filter(expire_date__lt=timezone.now()).delete()[0]

    # The platform is served over WSGI; the async door does the same work in a thread.
    async def aload(self):
        return await sync_to_async(self.load)()

    async def aexists(self, session_key):
        return await sync_to_async(self.exists)(session_key)

    async def acreate(self):
        return await sync_to_async(self.create)()

    async def asave(self, must_create=False):
        return await sync_to_async(self.save)(must_create)

    async def adelete(self, session_key=None):
        return await sync_to_async(self.delete)(session_key)

    @classmethod
    async def aclear_expired(cls):
        return await sync_to_async(cls.clear_expired)()
