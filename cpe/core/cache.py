"""Django's Redis cache, with one Redis client object per connection pool instead of one per
call. Django builds a new `redis.Redis` for every cache operation; with redis-py 8 building one
costs more CPU than the round trip itself (it fills a table of response callbacks), and every
signed-in request makes at least one cache call (the session). The client object holds no
connection of its own (the pool does), so sharing it between calls is what redis-py intends."""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


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
