"""The signed-in user's row, cached in the session cache (decision 0021).

Every signed-in request needs the user's row, current: the single-session rule reads
`session_key_hash`, sign-out empties it, a password change changes the hash the session is
checked against, closing and termination set `is_active`/`status`, the staff pages `is_staff`.
Read from PostgreSQL that is one statement per request; here it is read from Redis, in the same
round trip as the session copy when the middleware asks for the user (cpe.accounts.sessions:
the copy names its user, one script returns both), else with one GET.

What Redis holds, under `<cache prefix>:ur:<id>` in the session cache:
- `R<tag><json>`: the row as the table stores it (cpe.core.rows.PkReader.raw: the encrypted
  columns as ciphertext, the password hash as in the table), converted through the fields'
  converters on each read, for ROW_SECONDS from the moment it was read from PostgreSQL;
- `T<token>`: a tombstone, for TOMBSTONE_SECONDS after a write.

**Every write to the users table forgets the row** (`forget`): Model.save/delete (signals in
cpe.accounts.signals), and QuerySet.update/delete/bulk_update/bulk_create on the User manager
(cpe.accounts.models.UserQuerySet). Forgetting writes a tombstone at the write and again after
the transaction commits (`transaction.on_commit`), so no reader can be served the old row once
the writer's transaction is over.

**A fill never puts an old row back.** A reader that missed remembers what it saw (nothing, or a
tombstone and its token), reads PostgreSQL, then fills with a compare-and-set: only if the key
still holds exactly what it saw. A write committed meanwhile has put a new tombstone there (a
new token), so the fill is refused; a fill made more than TOMBSTONE_SECONDS / 2 after its look is
not attempted (the tombstone it would have to meet may have expired).

**Redis unavailable**: the row is read from PostgreSQL, never a 500; a forget that could not be
sent is remembered by the process (the session cache's cpe.core.cache.Outage, as the session
copies are) and sent before this process uses the cache again. What may remain stale then, and
for how long (at most ROW_SECONDS), is in the decision."""

import secrets
import time

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from cpe.core import redis_wire
from cpe.core.cache import wire_of
from cpe.core.rows import PkReader

from . import sessions
from .models import User

# A cached row lives this long after it was read from PostgreSQL: the bound of any staleness a
# lost forget can leave (a process that died between its commit and its forget, a Redis that
# lost its last second of writes). Each learner's request then reads PostgreSQL at most once
# per period.
ROW_SECONDS = 300
# A tombstone lives this long; a reader's fill must come within half of it.
TOMBSTONE_SECONDS = 30

_reader = PkReader(User)

# KEYS[1] the row's key; ARGV: what the reader saw ('' for nothing), the row, its seconds.
_FILL = redis_wire.Script(
    """local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1"""
)
# KEYS: the rows' keys; ARGV: the tombstone, its seconds.
_FORGET = redis_wire.Script(
    """for _, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1], 'EX', ARGV[2]) end
return #KEYS"""
)


def _wire():
    """(the session cache, its plain socket) when the row cache is in use, else None; raises
    sessions.CacheUnavailable while the cache is away (what this process owed it sent first)."""
    cache = sessions.session_cache()
    if cache is None:
        return None
    wire = wire_of(cache)
    return None if wire is None else (cache, wire)


_enabled_answer: list = []


def _enabled() -> bool:
    """PostgreSQL and a model PkReader can encode (fixed for the process: asked once)."""
    if not _enabled_answer:
        _enabled_answer.append(connections[DEFAULT_DB_ALIAS].vendor == "postgresql" and _reader.cacheable)
    return _enabled_answer[0]


def get(pk):
    """The user with this primary key (the instance `User.objects.filter(pk=pk).first()` gives),
    from the cache when it holds the row, else from PostgreSQL (and put into the cache)."""
    if not _enabled():
        return _reader.get(pk)
    look = sessions.WANT_USER_ROW.get()
    if look is not None and look.user_id == str(pk):
        seen, at, prefix = look.value, look.at, None
        look.user_id = None  # used once: a later read in this request asks again
    else:
        try:
            got = _wire()
            if got is None:
                return _reader.get(pk)
            cache, wire = got
            prefix = sessions.user_row_prefix(cache)
            at = time.monotonic()
            seen = redis_wire.Wire._checked(wire.call(["GET", prefix + str(pk)], idempotent=True))
        except sessions.CacheUnavailable:
            return _reader.get(pk)
        except Exception as exc:  # noqa: BLE001 - any cache failure means "use the database"
            sessions.outage.failed(exc, backoff=sessions.CACHE_BACKOFF_SECONDS)
            return _reader.get(pk)
    if seen is not None and seen[:1] == b"R":
        values = _reader.decode(seen[1:].decode())
        if values is not None:
            return _reader.instance(values)
    values = _reader.raw(pk)
    if values is None:
        return None
    if (seen is None or seen[:1] == b"T") and time.monotonic() - at < TOMBSTONE_SECONDS / 2:
        _fill(pk, seen or b"", values, prefix)
    return _reader.instance(values)


def _fill(pk, seen: bytes, values: list, prefix) -> None:
    try:
        got = _wire()
        if got is None:
            return
        cache, wire = got
        key = (prefix or sessions.user_row_prefix(cache)) + str(pk)
        row = b"R" + _reader.encode(values).encode()
        wire.evalsha(_FILL, [key], [seen, row, ROW_SECONDS], idempotent=True)
    except sessions.CacheUnavailable:
        pass
    except redis_wire.ReplyError:
        pass  # refused (Redis's memory full): the row is read from PostgreSQL next time too
    except Exception as exc:  # noqa: BLE001 - a fill that fails changes nothing
        sessions.outage.failed(exc, backoff=sessions.CACHE_BACKOFF_SECONDS)


def forget(pks, using: str = DEFAULT_DB_ALIAS) -> None:
    """The users' rows were written: tombstones now, and again once the transaction commits."""
    pks = sorted({int(pk) for pk in pks if pk is not None})
    if not pks:
        return
    look = sessions.WANT_USER_ROW.get()
    if look is not None and look.user_id is not None and int(look.user_id) in pks:
        look.user_id = None  # what this request's session read saw of the row is old now
    _send_forget(pks)
    if connections[using].in_atomic_block:
        transaction.on_commit(lambda: _send_forget(pks), using=using)


def _send_forget(pks) -> None:
    items = [("ur", pk) for pk in pks]
    try:
        got = _wire()
    except sessions.CacheUnavailable:
        sessions.outage.remember(items)
        return
    if got is None:
        return
    try:
        _tombstones(*got, pks)
    except Exception as exc:  # noqa: BLE001 - remembered, sent before this process uses the cache
        sessions.outage.failed(exc, items, backoff=sessions.CACHE_BACKOFF_SECONDS)


def _tombstones(cache, wire, pks) -> None:
    prefix = sessions.user_row_prefix(cache)
    keys = [prefix + str(pk) for pk in pks]
    token = b"T" + secrets.token_hex(8).encode()
    try:
        wire.evalsha(_FORGET, keys, [token, TOMBSTONE_SECONDS], idempotent=True)
    except redis_wire.ReplyError:
        # Redis refused the write (its memory is full: `noeviction`). DEL is still allowed, and
        # while writes are refused no fill can put a row back either.
        redis_wire.Wire._checked(wire.call(["DEL", *keys], idempotent=True))


def _flush(pks) -> None:
    """The forgets this process could not send (the Outage's flusher: raises on failure)."""
    from django.conf import settings
    from django.core.cache import caches

    cache = caches[settings.SESSION_CACHE_ALIAS]
    wire = wire_of(cache)
    if wire is not None:
        _tombstones(cache, wire, pks)


sessions.outage.flushers["ur"] = _flush
