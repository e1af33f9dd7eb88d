"""gunicorn entry: the platform's WSGI app as production mounts it (config/wsgi.py: the operations
layer, config/ops_wsgi.py, in front of the heartbeat's hot route, config/hotpath_wsgi.py, in front
of Django), with a bare WSGI "hello" at /bare/ served by the same workers (same server settings,
same run) outside those layers: the server's floor; and under /floor/ the same bare app reading
the request's body and making one Redis script call over the hot path's own client
(cpe/core/redis_wire.py), sent the heartbeat's own bytes (headers, cookie, token, body): the floor
of any heartbeat design on this server that keeps the play state in Redis (one round trip per
report)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.heartbeat.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from config.hotpath_wsgi import wrap  # noqa: E402
from config.ops_wsgi import wrap as ops_wrap  # noqa: E402
from cpe.core import redis_wire  # noqa: E402

django_app = ops_wrap(wrap(get_wsgi_application()))
HELLO = b'{"ok": true}'
REDIS_URL = os.environ["REDIS_URL"]
# A read and a write of one small hash, as the heartbeat's script does (it reads the state and
# writes the new one), without the rules in between.
FLOOR = redis_wire.Script("redis.call('HSET', KEYS[1], 'v', ARGV[1]) return redis.call('HGET', KEYS[1], 'v')")


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/bare/":
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(HELLO)))])
        return [HELLO]
    if environ.get("PATH_INFO", "").startswith("/floor/"):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        redis_wire.evalsha(REDIS_URL, FLOOR, ["cpebench:floor"], ["1"], idempotent=True)
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(HELLO)))])
        return [HELLO]
    return django_app(environ, start_response)
