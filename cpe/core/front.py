"""What Django's own middleware decides about every response, for a WSGI door that answers
before that middleware (the heartbeat's, config/hotpath_wsgi.py). Not a second copy of the
rules: each function runs Django's code itself (HttpRequest.get_host, SecurityMiddleware,
XFrameOptionsMiddleware) once per distinct input and remembers the answer, so a change of
settings or of Django's behaviour reaches both doors alike. Reset when a test changes settings."""

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.test.signals import setting_changed
from django.utils.module_loading import import_string

# Django's middleware that only adds headers to a response (no state, no body): the door adds
# what these add, when settings.MIDDLEWARE has them.
HEADER_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
_MEMO_MAX = 256  # the few host names and schemes a site sees (not every probe's)
_hosts: dict = {}
_headers: dict = {}


@receiver(setting_changed)
def _settings_changed(**kwargs):
    _hosts.clear()
    _headers.clear()


class _Probe(HttpRequest):
    """A request with only the WSGI variables a decision reads (its scheme as WSGIRequest's)."""

    def __init__(self, meta: dict):
        super().__init__()
        self.META = meta

    def _get_scheme(self):
        return self.META.get("wsgi.url_scheme") or "http"


_HOST_VARS = ("HTTP_X_FORWARDED_HOST", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT")  # what get_host reads


def _host_vars(environ) -> tuple:
    return tuple(environ.get(k) for k in _HOST_VARS)


def host_allowed(environ) -> bool:
    """Whether Django would accept the request's host (HttpRequest.get_host: ALLOWED_HOSTS, the
    DEBUG defaults, X-Forwarded-Host when USE_X_FORWARDED_HOST)."""
    key = _host_vars(environ)
    ok = _hosts.get(key)
    if ok is None:
        meta = {k: v for k, v in zip(_HOST_VARS, key, strict=True) if v is not None}
        try:
            _Probe(meta).get_host()
            ok = True
        except DisallowedHost:
            ok = False
        if len(_hosts) < _MEMO_MAX:
            _hosts[key] = ok
    return ok


def _unused_view(request):
    raise AssertionError("only process_response is called")


def _scheme_vars(environ) -> tuple:
    proxy = settings.SECURE_PROXY_SSL_HEADER
    return environ.get("wsgi.url_scheme"), (environ.get(proxy[0]) if proxy else None)


def response_headers(environ, content_type: str = "application/json") -> list:
    """The headers of a response to this request after Django's header middleware
    (HEADER_MIDDLEWARE, those in settings.MIDDLEWARE): Content-Type, nosniff, X-Frame-Options,
    Referrer-Policy, Cross-Origin-Opener-Policy, and HSTS on a secure request. A new list each
    call (the caller adds Content-Length and the like)."""
    key = (*_scheme_vars(environ), content_type)
    h = _headers.get(key)
    if h is None:
        proxy = settings.SECURE_PROXY_SSL_HEADER
        meta = {"wsgi.url_scheme": key[0] or "http"}
        if proxy and key[1] is not None:
            meta[proxy[0]] = key[1]
        request, response = _Probe(meta), HttpResponse(content_type=content_type)
        for path in settings.MIDDLEWARE:
            if path in HEADER_MIDDLEWARE:  # each adds its headers to the response in place
                import_string(path)(_unused_view).process_response(request, response)
        h = list(response.items())
        if len(_headers) < _MEMO_MAX:
            _headers[key] = h
    return list(h)
