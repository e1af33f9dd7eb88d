"""The client's network address: the one address every per-address control uses (IP bans,
login lockout, throttles, the WeChat payer IP, login records, the audit log, the heartbeat's
front door). docs/security.md "客户端地址 / Client address".

Behind reverse proxies REMOTE_ADDR is the nearest proxy, not the client. Each proxy appends the
address it saw to `X-Forwarded-For` (nginx: `$proxy_add_x_forwarded_for`), so with N trusted
proxies the N-th entry from the right is the address the outermost trusted proxy saw: the
client. Everything left of it was written by the client and is never read. N is the setting
TRUSTED_PROXY_COUNT (0: no proxy, REMOTE_ADDR is the client).

`client_ip` works on a WSGI environ or `request.META`, so the WSGI door in front of Django
(config/hotpath_wsgi.py) uses it as the views do.
"""

import ipaddress
import re
from collections.abc import Mapping

from django.conf import settings

# An address string longer than this is not an address (the longest IPv6 text, brackets, a
# port and a scope id fit well within it); it is refused before any parsing.
MAX_ADDRESS_LENGTH = 100
# The throttles' bucket for a request whose address is unknown (a misconfigured socket): one
# shared bucket, so that such requests are still throttled, together.
UNKNOWN_CLIENT = "0.0.0.0"

_PORT = re.compile(r"[0-9]{1,5}")


def parse_ip(raw) -> str | None:
    """One address as the platform stores it, or None when `raw` is not an address.

    Accepts a bare IPv4 or IPv6 address, optionally with a port (`198.51.100.7:443`,
    `[2001:db8::1]:443`) as some load balancers write it; drops an IPv6 scope id; gives an
    IPv4-mapped IPv6 address (`::ffff:198.51.100.7`, a dual-stack socket) as its IPv4 address,
    so that a ban or a throttle sees one client as one address. Anything else is None: a
    header is never trusted to hold an address."""
    if not isinstance(raw, str) or len(raw) > MAX_ADDRESS_LENGTH:
        return None
    host = raw.strip()
    if host.startswith("["):  # [v6] or [v6]:port
        host, sep, rest = host[1:].partition("]")
        if not sep or (rest and not (rest[0] == ":" and _PORT.fullmatch(rest[1:]))):
            return None
    elif host.count(":") == 1:  # v4:port
        host, _, port = host.partition(":")
        if not _PORT.fullmatch(port):
            return None
    if ":" in host:
        host = host.split("%", 1)[0]  # an IPv6 scope id: which interface, not who
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr)


def forwarded_client(remote_addr, forwarded_for, trusted_proxies: int) -> str | None:
    """The client's address from what the nearest peer and the trusted proxies say.

    With no trusted proxy (0), REMOTE_ADDR, whatever `X-Forwarded-For` claims. With N > 0, the
    N-th entry from the right of `X-Forwarded-For` (the address the outermost trusted proxy
    saw); entries further left are the client's own words and are ignored. REMOTE_ADDR when
    the header has fewer than N entries (the request did not come through all the proxies) or
    when that entry is not an address. None when nothing valid is known.
    Source: MDN "X-Forwarded-For", Security and privacy concerns (trust only the entries added
    by your own proxies, counted from the right); RFC 7239 §5.2, §8.1."""
    if trusted_proxies > 0 and isinstance(forwarded_for, str) and forwarded_for:
        entries = forwarded_for.rsplit(",", trusted_proxies)  # never splits the client's part
        if len(entries) >= trusted_proxies:
            found = parse_ip(entries[-trusted_proxies])
            if found is not None:
                return found
    return parse_ip(remote_addr)


def client_ip(meta: Mapping) -> str | None:
    """The client's address for a WSGI environ or `request.META` (TRUSTED_PROXY_COUNT applied),
    or None when unknown. Every per-address control reads the address through this."""
    return forwarded_client(
        meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), settings.TRUSTED_PROXY_COUNT
    )


def lockout_address(request) -> str | None:
    """`client_ip` for django-axes (AXES_CLIENT_IP_CALLABLE), an IPv6 address counted as its
    network of RATELIMIT_IPV6_MASK bits, as the throttles count it: an IPv6 client holds a
    whole /64, and rotating addresses inside it must not buy five more guesses each time."""
    found = client_ip(request.META)
    if found is None or ":" not in found:
        return found
    return str(ipaddress.ip_network(f"{found}/{settings.RATELIMIT_IPV6_MASK}", strict=False).network_address)


def ratelimit_ip(request) -> str:
    """`client_ip` for django-ratelimit's `key="ip"` (RATELIMIT_IP_META_KEY; it keeps masking
    IPv6 addresses to their /64), UNKNOWN_CLIENT when the address is unknown."""
    return client_ip(request.META) or UNKNOWN_CLIENT
