"""gunicorn entry: the platform's WSGI app as production mounts it (the heartbeat's hot route in
front of Django, config/hotpath_wsgi.py), with a bare WSGI "hello" at /bare/ served by the same
workers (same server settings, same run)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.heartbeat.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from config.hotpath_wsgi import wrap  # noqa: E402

django_app = wrap(get_wsgi_application())
HELLO = b'{"ok": true}'


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/bare/":
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(HELLO)))])
        return [HELLO]
    return django_app(environ, start_response)
