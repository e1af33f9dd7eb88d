"""The client's address behind trusted proxies (cpe/core/net.py): the parsing as a table, random
headers, the wiring of django-axes and django-ratelimit, and the deploy check."""

import ipaddress

import pytest
from django.core.checks import run_checks
from django.test import RequestFactory
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from cpe.core import net

CLIENT, SPOOF, PROXY, LB = "198.51.100.7", "203.0.113.9", "10.0.0.2", "10.0.0.3"


@pytest.mark.parametrize(
    "remote, xff, count, expected",
    [
        # No trusted proxy: the header is the client's word, never read.
        (CLIENT, None, 0, CLIENT),
        (CLIENT, SPOOF, 0, CLIENT),
        (CLIENT, f"{SPOOF}, 192.0.2.1", 0, CLIENT),
        # nginx in front (1): the entry nginx appended, whatever the client put left of it.
        (PROXY, CLIENT, 1, CLIENT),
        (PROXY, f"{SPOOF}, {CLIENT}", 1, CLIENT),
        (PROXY, f"{SPOOF},{CLIENT}", 1, CLIENT),
        (PROXY, f"not-an-ip, , {SPOOF},{CLIENT}", 1, CLIENT),
        (PROXY, f"{SPOOF},, {CLIENT}", 1, CLIENT),  # client sent "SPOOF," and nginx appended
        # A load balancer then nginx (2): the entry the load balancer appended.
        (PROXY, f"{SPOOF}, {CLIENT}, {LB}", 2, CLIENT),
        (PROXY, f"{CLIENT}, {LB}", 2, CLIENT),
        # Fewer entries than proxies (the request skipped the outer proxy): the peer.
        (PROXY, LB, 2, PROXY),
        (PROXY, None, 1, PROXY),
        (PROXY, "", 1, PROXY),
        # The trusted entry is not an address: the peer, never the garbage.
        (PROXY, f"{CLIENT}, garbage", 1, PROXY),
        (PROXY, f"{CLIENT}, ", 1, PROXY),
        (PROXY, f"{CLIENT}, 999.1.1.1", 1, PROXY),
        (PROXY, f"{CLIENT}, 1.2.3.4/24", 1, PROXY),
        (PROXY, f"{CLIENT}, 01.2.3.4", 1, PROXY),
        (PROXY, f"{CLIENT}, 1.2.3.4%eth0", 1, PROXY),
        (PROXY, "١٩٨.٥١.١٠٠.٧", 1, PROXY),  # Arabic-Indic digits are not an address
        # Forms proxies write: spaces, ports, brackets, IPv6, IPv4-mapped, scope ids.
        (PROXY, f"  {CLIENT}  ", 1, CLIENT),
        (PROXY, f"{CLIENT}:51234", 1, CLIENT),
        (PROXY, f"{CLIENT}:", 1, PROXY),
        (PROXY, f"{CLIENT}:123456", 1, PROXY),
        (PROXY, "2001:DB8::1", 1, "2001:db8::1"),
        (PROXY, "[2001:db8::1]:443", 1, "2001:db8::1"),
        (PROXY, "[2001:db8::1]", 1, "2001:db8::1"),
        (PROXY, "[2001:db8::1]x", 1, PROXY),
        (PROXY, "[2001:db8::1", 1, PROXY),
        (PROXY, f"::ffff:{CLIENT}", 1, CLIENT),
        (PROXY, "fe80::1%eth0", 1, "fe80::1"),
        (f"::ffff:{CLIENT}", None, 0, CLIENT),
        # No usable peer either: unknown.
        ("", None, 0, None),
        (None, None, 0, None),
        ("garbage", SPOOF, 0, None),
        ("garbage", "", 1, None),
        (PROXY, "1" * 200, 1, PROXY),
    ],
)
def test_forwarded_client(remote, xff, count, expected):
    assert net.forwarded_client(remote, xff, count) == expected


def test_client_ip_reads_the_setting_and_the_environ(settings):
    environ = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": f"{SPOOF}, {CLIENT}"}
    settings.TRUSTED_PROXY_COUNT = 0
    assert net.client_ip(environ) == PROXY
    settings.TRUSTED_PROXY_COUNT = 1
    assert net.client_ip(environ) == CLIENT
    settings.TRUSTED_PROXY_COUNT = 2
    assert net.client_ip(environ) == SPOOF  # too high a count believes the client: hence the docs
    assert net.client_ip({}) is None


def _valid_or_none(got):
    if got is None:
        return True
    return isinstance(got, str) and str(ipaddress.ip_address(got)) == got


ADDRESS_BITS = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(["", " ", ",", ":", "[", "]", "%", "::ffff:"]),
    st.text(max_size=30),
)


@hsettings(max_examples=400, deadline=None)
@given(
    remote=st.one_of(st.none(), st.text(max_size=60), st.ip_addresses().map(str)),
    xff=st.one_of(st.none(), st.text(max_size=200), st.lists(ADDRESS_BITS, max_size=6).map(", ".join)),
    count=st.integers(min_value=-2, max_value=5),
)
def test_random_headers_never_raise_and_give_an_address_or_none(remote, xff, count):
    got = net.forwarded_client(remote, xff, count)
    assert _valid_or_none(got)
    if count <= 0:
        assert got == net.parse_ip(remote)  # without a trusted proxy, the header changes nothing


@hsettings(max_examples=200, deadline=None)
@given(spoof=st.text(max_size=100), client=st.ip_addresses())
def test_nothing_left_of_the_trusted_entry_matters(spoof, client):
    """Whatever the client writes, one trusted proxy's entry wins."""
    expected = client.ipv4_mapped if client.version == 6 and client.ipv4_mapped else client
    assert net.forwarded_client(PROXY, f"{spoof}, {client}", 1) == str(expected)


def test_axes_uses_the_client_address(settings):
    from axes.helpers import get_client_ip_address

    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().post(
        "/accounts/login/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{SPOOF}, {CLIENT}"
    )
    assert get_client_ip_address(request) == CLIENT
    settings.TRUSTED_PROXY_COUNT = 0
    assert get_client_ip_address(request) == PROXY
    # An IPv6 client is locked as its /64: another address inside it is the same client.
    for addr in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"):
        assert get_client_ip_address(RequestFactory().post("/", REMOTE_ADDR=addr)) == "2001:db8:1:2::"
    assert (
        get_client_ip_address(RequestFactory().post("/", REMOTE_ADDR="2001:db8:1:3::1")) == "2001:db8:1:3::"
    )
    assert get_client_ip_address(RequestFactory().post("/", REMOTE_ADDR="")) is None


def test_ratelimit_ip_key_uses_the_client_address_and_keeps_the_ipv6_mask(settings):
    from django_ratelimit.core import _get_ip

    rf = RequestFactory()
    settings.TRUSTED_PROXY_COUNT = 1
    assert _get_ip(rf.post("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{SPOOF}, {CLIENT}")) == CLIENT
    # An IPv6 client counts as its /64, so rotating addresses inside it buys no new budget.
    assert (
        _get_ip(rf.post("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="2001:db8:1:2:aaaa::1"))
        == "2001:db8:1:2::"
    )
    # No address known at all: one shared bucket, still throttled (never an exception).
    assert _get_ip(rf.post("/", REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="junk")) == net.UNKNOWN_CLIENT
    settings.TRUSTED_PROXY_COUNT = 0
    assert _get_ip(rf.post("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=CLIENT)) == PROXY


def _errors(id_):
    return [e for e in run_checks(include_deployment_checks=True) if e.id == id_]


def test_deploy_check_requires_trusted_proxy_count_in_the_environment(monkeypatch, settings):
    monkeypatch.delenv("TRUSTED_PROXY_COUNT", raising=False)
    settings.TRUSTED_PROXY_COUNT = 0
    errors = _errors("cpe.E004")
    assert len(errors) == 1 and "TRUSTED_PROXY_COUNT" in errors[0].msg and "nginx" in errors[0].hint
    assert "PROXY_COUNT is no longer read" not in errors[0].hint
    monkeypatch.setenv("PROXY_COUNT", "1")  # the variable axes alone used to read
    assert "PROXY_COUNT is no longer read" in _errors("cpe.E004")[0].hint
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", " ")
    assert len(_errors("cpe.E004")) == 1
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "0")  # explicitly no proxy: a decision, accepted
    assert _errors("cpe.E004") == []
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "1")
    settings.TRUSTED_PROXY_COUNT = 1
    assert _errors("cpe.E004") == []
    settings.TRUSTED_PROXY_COUNT = -1
    assert len(_errors("cpe.E004")) == 1
    # Not a deploy run: the check is silent (a developer's `check` is not refused).
    assert [e for e in run_checks() if e.id == "cpe.E004"] == []


def test_production_settings_read_the_environment():
    """The variable reaches the setting in production; a value that is not a number stops the
    start (never a silent 0)."""
    import subprocess
    import sys

    from django.conf import settings

    def start(value):
        code = "from config.settings import production; print(production.TRUSTED_PROXY_COUNT)"
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            env={"TRUSTED_PROXY_COUNT": value, "CPE_VAR_DIR": str(settings.VAR_DIR)},
        )

    assert start("2").stdout.strip() == "2"
    assert start("one").returncode != 0


def test_no_code_reads_the_address_itself():
    """One function decides who the client is: a view or door reading REMOTE_ADDR or
    X-Forwarded-For itself would see the proxy, or believe the client (docs/security.md)."""
    import re
    from pathlib import Path

    from django.conf import settings

    literal = re.compile(r"""["'](REMOTE_ADDR|HTTP_X_FORWARDED_FOR|X-Forwarded-For)["']""", re.I)
    found = []
    for top in ("cpe", "config"):
        for path in (Path(settings.BASE_DIR) / top).rglob("*.py"):
            if "tests" in path.parts or path.name == "net.py" and path.parent.name == "core":
                continue
            found += [
                f"{path.relative_to(settings.BASE_DIR)}:{n}"
                for n, line in enumerate(path.read_text().splitlines(), 1)
                if literal.search(line)
            ]
    assert found == []
