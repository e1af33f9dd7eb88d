"""django-csp's middleware, with the policy text built once per process where it cannot vary.

The policy of a response depends on the settings, on a per-view change (`response._csp_update`
and the like, e.g. the player's courseware origins) and on whether the page used the request's
nonce (an inline script). Most responses have neither: for them django-csp would still rebuild the
same text from the settings on every request (about a tenth of a trivial request's CPU). Here
that text is built once per process and settings (kept until a setting changes, as tests do);
every other response goes through django-csp unchanged."""

import http.client

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as _CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# What a view or decorator may set on a response to change its policy (django-csp's names).
PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
# header -> (setting, the response attribute that exempts it)
HEADERS = {
    HEADER: ("CONTENT_SECURITY_POLICY", "_csp_exempt"),
    HEADER_REPORT_ONLY: ("CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro"),
}
_built: dict[str, tuple[str, tuple[str, ...]]] = {}


@receiver(setting_changed)
def _forget(setting, **kwargs):
    if setting in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY"):
        _built.clear()


def _policy(header: str) -> tuple[str, tuple[str, ...]]:
    """(the header's text, the path prefixes it is not sent on), built from the settings alone."""
    if header not in _built:
        setting, _ = HEADERS[header]
        config = getattr(settings, setting, None) or {}
        text = build_policy(report_only=header == HEADER_REPORT_ONLY)
        _built[header] = (text, tuple(config.get("EXCLUDE_URL_PREFIXES") or ()))
    return _built[header]


class CSPMiddleware(_CSPMiddleware):
    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in PER_RESPONSE
        ):
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in (
            http.client.INTERNAL_SERVER_ERROR,
            http.client.NOT_FOUND,
        ):
            return response  # django-csp leaves Django's debug pages alone
        for header, (_, exempt) in HEADERS.items():
            text, excluded = _policy(header)
            if (
                text
                and header not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(excluded)
            ):
                response[header] = text
        # As django-csp does: a nonce asked for after the header is written raises.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
