import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

MIDDLEWARE_PATH = "cpe.moderation.middleware.BanMiddleware"


@pytest.fixture
def ban_middleware(settings):
    """BanMiddleware where it belongs: right after AuthenticationMiddleware."""
    mw = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    mw.insert(mw.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, MIDDLEWARE_PATH)
    settings.MIDDLEWARE = mw
    return mw


@pytest.fixture
def staff_with(db):
    """A staff member holding exactly the given permissions ("app.codename")."""
    from cpe.accounts.tests.factories import StaffFactory

    def _make(*perms, username="operator1"):
        return StaffFactory(username=username, password="Staff-pass-2026", name="运营", permissions=perms)

    return _make


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server_with_ban_middleware(ban_middleware):
    """pytest-django's live_server builds its middleware chain once per session, before this
    test adds BanMiddleware: serve a handler built now instead."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.handlers.wsgi import WSGIHandler

    httpd = make_server("127.0.0.1", 0, StaticFilesHandler(WSGIHandler()), handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
