"""gunicorn entry: the platform's WSGI app as production mounts it (config/wsgi.py: the operations
layer, config/ops_wsgi.py, in front of the heartbeat's hot route, config/hotpath_wsgi.py, in front
of Django), with a bare WSGI "hello" at /bare/ served by the same workers (same server settings,
same run) outside those layers: the server's floor."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.heartbeat.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from config.hotpath_wsgi import wrap  # noqa: E402
from config.ops_wsgi import wrap as ops_wrap  # noqa: E402

django_app = ops_wrap(wrap(get_wsgi_application()))
HELLO = b'{"ok": true}'


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/bare/":
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(HELLO)))])
        return [HELLO]
    return django_app(environ, start_response)
