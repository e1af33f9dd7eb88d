"""Tables for the rules of SPEC §12 (no database)."""
import ipaddress
from datetime import datetime, timedelta, timezone

import pytest

from cpe.accounts.states import AccountStatus, TerminationReason
from cpe.moderation import policy

T0 = datetime(2026, 3, 31, 16, 0, tzinfo=timezone.utc)
S = timedelta(seconds=1)


@pytest.mark.parametrize("text, expected", [
    ("203.0.113.7", "203.0.113.7/32"),
    (" 203.0.113.0/24 ", "203.0.113.0/24"),
    ("10.1.0.0/16", "10.1.0.0/16"),
    ("2001:db8::1", "2001:db8::1/128"),
    ("2001:DB8:1::/48", "2001:db8:1::/48"),
    ("2001:db8::/32", "2001:db8::/32"),
    ("::ffff:203.0.113.7", "203.0.113.7/32"),
])
def test_parse_network_accepts(text, expected):
    net, message = policy.parse_network(text)
    assert (str(net), message) == (expected, "")


@pytest.mark.parametrize("text, fragment", [
    ("", "请填写"),
    ("203.0.113", "格式不正确"),
    ("203.0.113.256", "格式不正确"),
    ("2001:db8::zz", "格式不正确"),
    ("203.0.113.7/24", "请写成 203.0.113.0/24"),
    ("2001:db8::1/48", "请写成 2001:db8::/48"),
    ("10.0.0.0/15", "至少须为 /16"),
    ("0.0.0.0/0", "至少须为 /16"),
    ("2001:db8::/31", "至少须为 /32"),
    ("::/0", "至少须为 /32"),
])
def test_parse_network_refuses_with_a_chinese_reason(text, fragment):
    net, message = policy.parse_network(text)
    assert net is None and fragment in message


NETS = [ipaddress.ip_network(n) for n in ("203.0.113.0/24", "198.51.100.7/32", "2001:db8:1::/48")]


@pytest.mark.parametrize("raw, banned", [
    ("203.0.113.0", True), ("203.0.113.255", True), ("203.0.112.255", False), ("203.0.114.0", False),
    ("198.51.100.7", True), ("198.51.100.8", False),
    ("2001:db8:1::", True), ("2001:db8:1:ffff:ffff:ffff:ffff:ffff", True), ("2001:db8:2::", False),
    ("::ffff:203.0.113.9", True),  # IPv4-mapped IPv6 (a dual-stack socket) is the IPv4 address
    ("::ffff:203.0.114.9", False),
    ("fe80::1%eth0", False), ("", False), (None, False), ("not-an-ip", False),
])
def test_address_in_banned_networks(raw, banned):
    assert policy.address_banned(policy.client_address(raw), NETS) is banned


@pytest.mark.parametrize("at, ends_at, lifted_at, active", [
    (T0 - S, None, None, False),            # the second before it starts
    (T0, None, None, True),                 # from its start
    (T0 + timedelta(days=3650), None, None, True),  # no end: until lifted
    (T0 + timedelta(days=7) - S, T0 + timedelta(days=7), None, True),  # the second before the end
    (T0 + timedelta(days=7), T0 + timedelta(days=7), None, False),     # the end itself: over (half-open)
    (T0 + timedelta(hours=1) - S, None, T0 + timedelta(hours=1), True),
    (T0 + timedelta(hours=1), None, T0 + timedelta(hours=1), False),  # lifted
])
def test_ban_window_is_half_open(at, ends_at, lifted_at, active):
    assert policy.ban_active(starts_at=T0, ends_at=ends_at, lifted_at=lifted_at, at=at) is active


@pytest.mark.parametrize("reason, ends_at, fields", [
    ("刷课", None, set()),
    ("刷课", T0 + S, set()),
    ("刷课", T0, {"ends_at"}),
    ("刷课", T0 - S, {"ends_at"}),
    ("  ", None, {"reason"}),
    ("x" * (policy.BAN_REASON_MAX + 1), None, {"reason"}),
])
def test_ban_errors(reason, ends_at, fields):
    assert set(policy.ban_errors(reason=reason, starts_at=T0, ends_at=ends_at, at=T0)) == fields


@pytest.mark.parametrize("path, open_", [
    ("/admin/", True), ("/admin/moderation/ban/", True), ("/static/css/site.css", True),
    ("/agreement/", True), ("/agreement/v/1.0/", True), ("/notices/", True), ("/notices/3/", True),
    ("/orders/notify/alipay/", True), ("/sandbox/gateway/", True),
    ("/", False), ("/accounts/login/", False), ("/learn/", False), ("/api/learning/sessions/", False),
    ("/orders/", False), ("/administrator/", False), ("/adminx", False), ("/notice", False),
])
def test_paths_open_to_banned_visitors(path, open_):
    assert policy.ban_path_open(path) is open_


@pytest.mark.parametrize("reason", [r for r in TerminationReason.values if r != TerminationReason.OTHER])
def test_termination_with_a_seed_reason_needs_no_note(reason):
    assert policy.termination_errors(reason=reason, note="") == {}


@pytest.mark.parametrize("reason, note, fields", [
    (TerminationReason.OTHER, "", {"note"}),
    (TerminationReason.OTHER, "   ", {"note"}),
    (TerminationReason.OTHER, "冒用他人身份", set()),
    ("", "x", {"reason"}),
    ("expelled", "x", {"reason"}),
    (TerminationReason.VIOLATION, "x" * (policy.TERMINATION_NOTE_MAX + 1), {"note"}),
])
def test_termination_errors(reason, note, fields):
    assert set(policy.termination_errors(reason=reason, note=note)) == fields


@pytest.mark.parametrize("status, reason, refused", [
    (AccountStatus.TERMINATED, TerminationReason.VIOLATION, True),
    *[(AccountStatus.TERMINATED, r, False) for r in TerminationReason.values if r != TerminationReason.VIOLATION],
    (AccountStatus.ACTIVE, "", False),
    (AccountStatus.CLOSED, "", False),
])
def test_reregistration_refused_only_after_a_violation(status, reason, refused):
    message = policy.reregistration_refusal(status=status, status_reason=reason)
    assert (message is not None) is refused
    if refused:
        assert "违反用户协议" in message and "客服" in message
