"""Termination by the platform and bans: the rules (rules R12; agreement §2.1(3), §3.2).

Pure functions: plain facts and an explicit `at` in, a decision out. No ORM, no clock."""

import ipaddress
from collections.abc import Iterable
from datetime import datetime

# Re-registration (rules R12) reads only the account's own statuses, so the rule lives in
# accounts.policy (accounts sits below moderation and asks it while registering); re-exported here.
from cpe.accounts.policy import (  # noqa: F401
    REREGISTRATION_BARRED_REASONS,
    REREGISTRATION_REFUSED_MESSAGE,
    reregistration_refusal,
)
from cpe.accounts.states import AccountStatus, TerminationReason

# --- termination (agreement §3.2) ---------------------------------------------------------------
# rules R12: "other with text": a termination for "other" must say why. Decision: at most
# TERMINATION_NOTE_MAX characters (it goes into the audit log and the learner's file).
TERMINATION_NOTE_MAX = 500


def termination_errors(*, reason: str, note: str) -> dict:
    """What is wrong with a staff termination (field -> Chinese message); {} when it may go ahead.
    The reason must be one of the agreement's grounds (agreement §3.2, `TerminationReason`); "other" needs a
    note (rules R12)."""
    errors = {}
    note = (note or "").strip()
    if reason not in TerminationReason.values:
        errors["reason"] = "请选择终止服务的原因。"
    elif reason == TerminationReason.OTHER and not note:
        errors["note"] = "原因为“其他”时，请填写具体说明。"
    if len(note) > TERMINATION_NOTE_MAX:
        errors["note"] = f"说明不能超过 {TERMINATION_NOTE_MAX} 个字。"
    return errors


def termination_reason_text(*, reason: str, note: str) -> str:
    """The reason a terminated learner is told (page, SMS, e-mail, data copy): the agreement's ground;
    for "other" the staff's note is the reason itself, so it is told too (rules R12 "other with
    text"). For the agreement's grounds the note stays internal (audit log, staff site)."""
    try:
        label = TerminationReason(reason).label
    except ValueError:
        label = "其他"
    note = (note or "").strip()
    if reason == TerminationReason.OTHER and note:
        return f"{label}：{note}"
    return label


# --- notifying the sanctioned person (rules R12 "the learner is notified") ----------------------
# Both a termination and an account ban are told by SMS (and e-mail when verified), with the
# reason and how to object. The SMS carries at most SANCTION_SMS_REASON_MAX characters of the
# reason (a long ban reason would split into many SMS); the e-mail and the pages carry it whole.
SANCTION_SMS_REASON_MAX = 60
SMS_SIGNATURE = "【内蒙古会计继续教育】"


def objection_text(*, phone: str, email: str) -> str:
    return f"如有异议，请致电客服 {phone} 或发送邮件至 {email} 说明情况。"


def _short(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= SANCTION_SMS_REASON_MAX else text[: SANCTION_SMS_REASON_MAX - 1] + "…"


def ban_notice(*, reason: str, until: str | None, phone: str, email: str, sms: bool) -> str:
    """The text telling a learner their account is banned. `until`: the local end time as
    shown ("YYYY-MM-DD HH:MM"), None for "until lifted"."""
    period = f"至 {until}（北京时间）" if until else "直至平台解除"
    text = (
        f"您的账号已被平台封禁，期限：{period}。原因：{_short(reason) if sms else reason.strip()}。"
        "封禁期间不能登录、学习、考试或购买，已记录的学习进度和学时不受影响。"
        + objection_text(phone=phone, email=email)
    )
    return SMS_SIGNATURE + text if sms else text


def termination_notice(
    *, reason_text: str, phone: str, email: str, sms: bool, restorable: bool = False
) -> str:
    """The text telling a learner their service is ended (agreement §3.2); for a ground the learner can
    cure alone (unreachable contact details), how to come back instead of "cannot sign in"."""
    come_back = "用原密码登录并验证新的手机号码即可恢复服务；" if restorable else "账号不能再登录；"
    text = (
        f"您的账号已被平台终止服务，原因：{_short(reason_text) if sms else reason_text}。"
        + come_back
        + "已付款订单的处理方式请见平台说明。您仍可在平台“受限账号下载个人信息”页面"
        "验证手机后下载您的个人信息。" + objection_text(phone=phone, email=email)
    )
    return SMS_SIGNATURE + text if sms else text


# --- bans (rules R12: "Staff can ban an account or an IP address/range") --------------------
# Decision: the narrowest range staff may ban in one row. Learners reach us through mobile
# carriers' shared (CGNAT) addresses: a wider range would shut out a city. IPv6: a /32 is a
# whole provider's allocation.
MIN_PREFIX = {4: 16, 6: 32}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
BAN_REASON_MAX = 500


def parse_network(text: str) -> tuple[IPNetwork | None, str]:
    """(ip_network, "") for an address ("203.0.113.7", "2001:db8::1") or a CIDR range
    ("203.0.113.0/24", "2001:db8::/48"), or (None, Chinese message). A range with host bits set
    ("203.0.113.7/24") is refused (which did staff mean?), as is one wider than MIN_PREFIX.
    An IPv4-mapped IPv6 address is stored as the IPv4 address it is."""
    text = (text or "").strip()
    if not text:
        return None, "请填写 IP 地址或地址段。"
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return None, "IP 地址或地址段格式不正确，例如 203.0.113.7、203.0.113.0/24 或 2001:db8::/48。"
        return None, f"地址段的主机位不为零，请写成 {loose}。"
    if net.version == 6 and net.prefixlen == 128 and net.network_address.ipv4_mapped is not None:
        net = ipaddress.ip_network(net.network_address.ipv4_mapped)
    if net.prefixlen < MIN_PREFIX[net.version]:
        return None, (
            f"地址段过大：IPv{net.version} 至少须为 /{MIN_PREFIX[net.version]}"
            "（过大的地址段会封禁大量正常学员）。"
        )
    return net, ""


def client_address(raw: str | None) -> IPAddress | None:
    """The request's address as an ip_address (IPv4-mapped IPv6 as IPv4), or None if absent/bad."""
    if not raw:
        return None
    try:
        addr = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def address_banned(addr: IPAddress | None, networks: Iterable[IPNetwork]) -> bool:
    """Whether an address lies in any of the networks (either version; versions never match)."""
    if addr is None:
        return False
    return any(addr.version == net.version and addr in net for net in networks)


def ban_active(
    *, starts_at: datetime, ends_at: datetime | None, lifted_at: datetime | None, at: datetime
) -> bool:
    """A ban applies in the half-open window [starts_at, ends_at) (conventions C4);
    no end means until lifted; a lifted ban stops applying from the moment it was lifted."""
    if at < starts_at:
        return False
    if ends_at is not None and at >= ends_at:
        return False
    if lifted_at is not None and at >= lifted_at:
        return False
    return True


def ban_errors(*, reason: str, starts_at: datetime, ends_at: datetime | None, at: datetime) -> dict[str, str]:
    """What is wrong with a new ban (field -> Chinese message)."""
    errors: dict[str, str] = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = "请填写封禁原因（会显示给被封禁的用户）。"
    elif len(reason) > BAN_REASON_MAX:
        errors["reason"] = f"封禁原因不能超过 {BAN_REASON_MAX} 个字。"
    if ends_at is not None and ends_at <= max(starts_at, at):
        errors["ends_at"] = "结束时间须晚于当前时间。"
    return errors


# Open even to a banned visitor (rules R12: "banned requests get a clear page", and that page sends
# them to support):
# - always, any method: the staff site (staff lift bans there), static files, what outside systems
#   call (payment notifications, the embedded gateway: no user, any address), support (the way to
#   object the ban page points to; asking needs a signed-in learner, so an account ban's ended
#   session cannot post there) and the sanctioned person's copy of their data (PIPL Art. 45 holds
#   during a ban);
# - read-only (GET/HEAD): the public pages (home, notices, the agreement, the public query,
#   certificate verification). A banned address may read them but not submit the public query
#   (a look-up of other people's records is what an abusive address gets banned for) nor accept an
#   agreement.
SANCTIONED_COPY_PATH = "/restricted/personal-data/"
BAN_OPEN_PATHS = ("/admin/", "/static/", "/orders/notify/", "/sandbox/", "/support/", SANCTIONED_COPY_PATH)
BAN_READ_ONLY_PATHS = ("/agreement/", "/notices/", "/credits/query/", "/credits/verify/")
BAN_READ_ONLY_EXACT = ("/",)
SAFE_METHODS = ("GET", "HEAD")


def ban_path_open(path: str, method: str = "GET") -> bool:
    """Whether a banned visitor may make this request (see BAN_OPEN_PATHS above)."""
    if path.startswith(BAN_OPEN_PATHS):
        return True
    if method in SAFE_METHODS:
        return path in BAN_READ_ONLY_EXACT or path.startswith(BAN_READ_ONLY_PATHS)
    return False


# --- a sanctioned person's copy of their data (个人信息保护法 Art. 45) ------------------------
# A ban or a termination ends the sign-in, not the right to a copy of one's personal data. Such a
# person proves the account's verified mobile with an SMS code (as for a password reset, rules
# R1.6) on a page open to them (SANCTIONED_COPY_PATH) and gets the same ZIP a signed-in learner
# gets. A person in good standing is sent to the signed-in download instead (password again).
SANCTIONED_COPY_RATE_PER_IP = "10/h"  # submissions of the page per address (codes and downloads)
SANCTIONED_COPY_SENT_MESSAGE = "如该账号处于封禁或终止服务状态，验证码已发送至其绑定的手机号码。"


def sanctioned_copy_allowed(*, status: str, banned: bool, is_staff: bool, mobile_verified: bool) -> bool:
    """Whether this account's holder may take their data copy by SMS code without signing in:
    a learner whose account is terminated or under a ban in force, with a verified mobile."""
    if is_staff or not mobile_verified:
        return False
    return banned or status == AccountStatus.TERMINATED
