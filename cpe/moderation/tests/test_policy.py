"""Tables for the rules of rules R12 (no database)."""

import ipaddress
from datetime import datetime, timedelta, timezone

import pytest

from cpe.accounts.states import AccountStatus, TerminationReason
from cpe.moderation import policy

T0 = datetime(2026, 3, 31, 16, 0, tzinfo=timezone.utc)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("203.0.113.7", "203.0.113.7/32"),
        (" 203.0.113.0/24 ", "203.0.113.0/24"),
        ("10.1.0.0/16", "10.1.0.0/16"),
        ("2001:db8::1", "2001:db8::1/128"),
        ("2001:DB8:1::/48", "2001:db8:1::/48"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("::ffff:203.0.113.7", "203.0.113.7/32"),
    ],
)
def test_parse_network_accepts(text, expected):
    net, message = policy.parse_network(text)
    assert (str(net), message) == (expected, "")


@pytest.mark.parametrize(
    "text, fragment",
    [
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
    ],
)
def test_parse_network_refuses_with_a_chinese_reason(text, fragment):
    net, message = policy.parse_network(text)
    assert net is None and fragment in message


NETS = [ipaddress.ip_network(n) for n in ("203.0.113.0/24", "198.51.100.7/32", "2001:db8:1::/48")]


@pytest.mark.parametrize(
    "raw, banned",
    [
        ("203.0.113.0", True),
        ("203.0.113.255", True),
        ("203.0.112.255", False),
        ("203.0.114.0", False),
        ("198.51.100.7", True),
        ("198.51.100.8", False),
        ("2001:db8:1::", True),
        ("2001:db8:1:ffff:ffff:ffff:ffff:ffff", True),
        ("2001:db8:2::", False),
        ("::ffff:203.0.113.9", True),  # IPv4-mapped IPv6 (a dual-stack socket) is the IPv4 address
        ("::ffff:203.0.114.9", False),
        ("fe80::1%eth0", False),
        ("", False),
        (None, False),
        ("not-an-ip", False),
    ],
)
def test_address_in_banned_networks(raw, banned):
    assert policy.address_banned(policy.client_address(raw), NETS) is banned


@pytest.mark.parametrize(
    "at, ends_at, lifted_at, active",
    [
        (T0 - S, None, None, False),  # the second before it starts
        (T0, None, None, True),  # from its start
        (T0 + timedelta(days=3650), None, None, True),  # no end: until lifted
        (T0 + timedelta(days=7) - S, T0 + timedelta(days=7), None, True),  # the second before the end
        (T0 + timedelta(days=7), T0 + timedelta(days=7), None, False),  # the end itself: over (half-open)
        (T0 + timedelta(hours=1) - S, None, T0 + timedelta(hours=1), True),
        (T0 + timedelta(hours=1), None, T0 + timedelta(hours=1), False),  # lifted
    ],
)
def test_ban_window_is_half_open(at, ends_at, lifted_at, active):
    assert policy.ban_active(starts_at=T0, ends_at=ends_at, lifted_at=lifted_at, at=at) is active


@pytest.mark.parametrize(
    "reason, ends_at, fields",
    [
        ("刷课", None, set()),
        ("刷课", T0 + S, set()),
        ("刷课", T0, {"ends_at"}),
        ("刷课", T0 - S, {"ends_at"}),
        ("  ", None, {"reason"}),
        ("x" * (policy.BAN_REASON_MAX + 1), None, {"reason"}),
    ],
)
def test_ban_errors(reason, ends_at, fields):
    assert set(policy.ban_errors(reason=reason, starts_at=T0, ends_at=ends_at, at=T0)) == fields


@pytest.mark.parametrize(
    "path, open_",
    [
        ("/admin/", True),
        ("/admin/moderation/ban/", True),
        ("/static/css/site.css", True),
        ("/agreement/", True),
        ("/agreement/v/1.0/", True),
        ("/notices/", True),
        ("/notices/3/", True),
        ("/orders/notify/alipay/", True),
        ("/sandbox/gateway/", True),
        ("/", True),
        ("/support/", True),
        ("/support/ask/", True),
        ("/credits/query/", True),
        ("/credits/verify/ZS2026000001/", True),
        ("/restricted/personal-data/", True),
        ("/accounts/login/", False),
        ("/learn/", False),
        ("/api/learning/sessions/", False),
        ("/orders/", False),
        ("/administrator/", False),
        ("/adminx", False),
        ("/notice", False),
        ("/credits/", False),
        ("/credits/year/2026/", False),
        ("/accounts/dashboard/", False),
    ],
)
def test_paths_open_to_banned_visitors(path, open_):
    assert policy.ban_path_open(path) is open_
    assert policy.ban_path_open(path, "HEAD") is open_


@pytest.mark.parametrize(
    "path, open_",
    [
        # posting: the machines, the staff site, support (the way to object) and the PIPL copy only
        ("/admin/moderation/ban/add/", True),
        ("/orders/notify/alipay/", True),
        ("/sandbox/gateway/", True),
        ("/support/ask/", True),
        ("/support/t/3/", True),
        ("/restricted/personal-data/", True),
        ("/", False),
        ("/credits/query/", False),
        ("/agreement/accept/", False),
        ("/notices/", False),
        ("/accounts/login/", False),
        ("/accounts/register/", False),
    ],
)
def test_what_a_banned_visitor_may_post_to(path, open_):
    assert policy.ban_path_open(path, "POST") is open_
    assert policy.ban_path_open(path, "PUT") is open_


def test_ban_notice_tells_reason_period_and_how_to_object():
    sms = policy.ban_notice(
        reason="多人\n共用账号", until="2026-12-31 18:00", phone="0471-1", email="a@b", sms=True
    )
    assert sms.startswith(policy.SMS_SIGNATURE) and "多人 共用账号" in sms and "至 2026-12-31 18:00" in sms
    assert "如有异议" in sms and "0471-1" in sms and "a@b" in sms
    mail = policy.ban_notice(reason="y" * 300, until=None, phone="p", email="e", sms=False)
    assert "直至平台解除" in mail and "y" * 300 in mail and not mail.startswith(policy.SMS_SIGNATURE)
    cut = policy.ban_notice(reason="y" * 300, until=None, phone="p", email="e", sms=True)
    assert (
        "y" * policy.SANCTION_SMS_REASON_MAX not in cut
        and "y" * (policy.SANCTION_SMS_REASON_MAX - 1) + "…" in cut
    )


@pytest.mark.parametrize(
    "reason, note, told",
    [
        (TerminationReason.OTHER, " 冒用他人身份 ", "其他：冒用他人身份"),
        (TerminationReason.VIOLATION, "内部工单", "违反用户协议"),
        (TerminationReason.REFUSED_AGREEMENT, "", "明示不接受新的用户协议"),
        ("no-such-reason", "", "其他"),
    ],
)
def test_termination_reason_told_to_the_learner(reason, note, told):
    assert policy.termination_reason_text(reason=reason, note=note) == told


@pytest.mark.parametrize(
    "status, banned, staff, verified, allowed",
    [
        ("terminated", False, False, True, True),
        ("active", True, False, True, True),
        ("active", False, False, True, False),
        ("closed", False, False, True, False),
        ("terminated", False, False, False, False),
        ("active", True, True, True, False),
    ],
)
def test_who_may_take_the_copy_by_sms_code(status, banned, staff, verified, allowed):
    assert (
        policy.sanctioned_copy_allowed(status=status, banned=banned, is_staff=staff, mobile_verified=verified)
        is allowed
    )


@pytest.mark.parametrize("reason", [r for r in TerminationReason.values if r != TerminationReason.OTHER])
def test_termination_with_a_seed_reason_needs_no_note(reason):
    assert policy.termination_errors(reason=reason, note="") == {}


@pytest.mark.parametrize(
    "reason, note, fields",
    [
        (TerminationReason.OTHER, "", {"note"}),
        (TerminationReason.OTHER, "   ", {"note"}),
        (TerminationReason.OTHER, "冒用他人身份", set()),
        ("", "x", {"reason"}),
        ("expelled", "x", {"reason"}),
        (TerminationReason.VIOLATION, "x" * (policy.TERMINATION_NOTE_MAX + 1), {"note"}),
    ],
)
def test_termination_errors(reason, note, fields):
    assert set(policy.termination_errors(reason=reason, note=note)) == fields


@pytest.mark.parametrize(
    "status, reason, refused",
    [
        (AccountStatus.TERMINATED, TerminationReason.VIOLATION, True),
        *[
            (AccountStatus.TERMINATED, r, False)
            for r in TerminationReason.values
            if r != TerminationReason.VIOLATION
        ],
        (AccountStatus.ACTIVE, "", False),
        (AccountStatus.CLOSED, "", False),
    ],
)
def test_reregistration_refused_only_after_a_violation(status, reason, refused):
    message = policy.reregistration_refusal(status=status, status_reason=reason)
    assert (message is not None) is refused
    if refused:
        assert "违反用户协议" in message and "客服" in message
