"""Django's Redis cache, with one Redis client object per connection pool instead of one per
call. Django builds a new `redis.Redis` for every cache operation; with redis-py 8 building one
costs more CPU than the round trip itself (it fills a table of response callbacks), and every
signed-in request makes at least one cache call (the session). The client object holds no
connection of its own (the pool does), so sharing it between calls is what redis-py intends.

Also the machinery shared by the caches in front of PostgreSQL (decision 0018): `Outage`, a
process's back-off and memory of what a cache it could not reach may hold stale, and `wire_of`,
the plain socket to a Django Redis cache's server."""

import logging
import threading
import time

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

log = logging.getLogger(__name__)


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient


class Outage:
    """Per process, for one cache in front of PostgreSQL (decision 0018): whether the cache may be
    tried now, and what it may hold stale because this process could not tell it.

    A failure (`failed`) starts a back-off: for `backoff` seconds the process does not try the
    cache at all (an unreachable host costs one timeout per process and period, not one per
    request) and logs one warning. What the process should have told the cache meanwhile is
    remembered as `(kind, key)` items (`remember`, or `failed(exc, items)`), up to `max_items`;
    `ready()` tells the cache all of it, through the function registered for each kind
    (`flushers[kind](keys)`), before it answers that the cache may be used again. So whatever
    this process changed while the cache was away is never read back from the cache by it."""

    def __init__(self, what: str, *, max_items: int = 100_000):
        self.what = what
        self.max_items = max_items
        self.lock = threading.Lock()
        self.skip_until = 0.0
        self.stale: set = set()
        self.flushers: dict = {}

    def failed(self, exc, items=(), *, backoff: float = 5.0):
        with self.lock:
            first = time.monotonic() >= self.skip_until
            self.skip_until = time.monotonic() + backoff
            if len(self.stale) < self.max_items:
                self.stale.update(items)
        if first:
            log.warning("%s unavailable, using the database: %r", self.what, exc)

    def remember(self, items):
        with self.lock:
            if len(self.stale) < self.max_items:
                self.stale.update(items)

    def reset(self):
        with self.lock:
            self.skip_until, self.stale = 0.0, set()

    def backing_off(self) -> bool:
        return time.monotonic() < self.skip_until

    def ready(self, *, backoff: float = 5.0) -> bool:
        """False while backing off; else first tells the cache what this process remembered
        (False, and remembered again, if that fails)."""
        if time.monotonic() < self.skip_until:
            return False
        if self.stale:
            with self.lock:
                stale, self.stale = self.stale, set()
            by_kind: dict = {}
            for kind, key in stale:
                by_kind.setdefault(kind, []).append(key)
            try:
                for kind, keys in by_kind.items():
                    self.flushers[kind](keys)
            except Exception as exc:  # noqa: BLE001 - any cache failure means "use the database"
                self.failed(exc, stale, backoff=backoff)
                return False
        return True


def wire_of(cache):
    """The plain-socket client (cpe.core.redis_wire) for a Django Redis cache on one `redis://`
    server, with the cache's own socket timeout; None for any other cache."""
    wire = cache.__dict__.get("_cpe_wire", False)  # the answer, kept on the cache object
    if wire is not False:
        return wire
    from django.core.cache.backends.redis import RedisCache

    from cpe.core import redis_wire

    servers = getattr(cache, "_servers", ())
    if not isinstance(cache, RedisCache) or len(servers) != 1 or not servers[0].startswith("redis://"):
        wire = None
    else:
        timeout = cache._options.get("socket_timeout") or redis_wire.TIMEOUT
        wire = _wires.get((servers[0], timeout))
        if wire is None:
            wire = _wires[(servers[0], timeout)] = redis_wire.Wire(servers[0], timeout=timeout)
    cache.__dict__["_cpe_wire"] = wire
    return wire


_wires: dict = {}
