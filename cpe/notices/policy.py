"""Announcements and maintenance notices: the rules (rules R2.4; agreement §4.5, §7.6, §8.1)."""

import re
from collections.abc import Container
from datetime import datetime, timedelta

# rules R2.4 "a maintenance notice carries the window and shows a banner before it starts"
# (agreement §7.6: maintenance is announced in advance). How far ahead: a decision, 3 days.
MAINTENANCE_BANNER_LEAD = timedelta(days=3)
# During maintenance learners get a friendly 503 page; staff can still work (rules R2.4). These
# paths stay open for everyone: the staff site, static files, the notices themselves (the page
# links to them), and what outside systems call (payment notifications, the embedded gateway).
MAINTENANCE_OPEN_PATHS = ("/admin/", "/static/", "/notices/", "/orders/notify/", "/sandbox/")
RETRY_AFTER_MAX = 3600  # s: the 503's Retry-After, at most (the window may be long)


def announcement_live(*, published_at: datetime | None, at: datetime) -> bool:
    """Shown once its publish time has come; a draft (no publish time) never is."""
    return published_at is not None and published_at <= at


def audience_includes(
    *, audience: str, region: str, year_id: int | None, user_region: str, user_year_ids: Container[int]
) -> bool:
    """rules R2.4 audience: all, a region (the learner's 会计人员信息管理地区), or a year's buyers
    (learners with a paid order for a product of that training year). Anonymous visitors and
    staff see the "all" ones; `user_year_ids` is the set of years the learner bought."""
    if audience == "all":
        return True
    if audience == "region":
        return bool(region) and region == user_region
    if audience == "year_buyers":
        return year_id is not None and year_id in user_year_ids
    return False


def maintenance_phase(*, start: datetime | None, end: datetime | None, at: datetime) -> str:
    """ "upcoming" within MAINTENANCE_BANNER_LEAD before the start (the banner), "active" from
    start until end (the 503), else ""."""
    if start is None or end is None or end <= start:
        return ""
    if start <= at < end:
        return "active"
    if start - MAINTENANCE_BANNER_LEAD <= at < start:
        return "upcoming"
    return ""


def maintenance_blocks(*, is_staff: bool, path: str) -> bool:
    """Whether a request gets the maintenance page while a window is active."""
    if is_staff:
        return False
    return not path.startswith(MAINTENANCE_OPEN_PATHS)


def retry_after(*, end: datetime, at: datetime) -> int:
    return max(60, min(RETRY_AFTER_MAX, int((end - at).total_seconds())))


def announcement_errors(
    *,
    kind: str,
    audience: str,
    region: str,
    year_id: int | None,
    start: datetime | None,
    end: datetime | None,
) -> dict[str, str]:
    """What makes an announcement incomplete, per field (Chinese, for the staff form)."""
    errors: dict[str, str] = {}
    if audience == "region" and not region:
        errors["region"] = "对象为指定地区时，请选择地区。"
    if audience == "year_buyers" and year_id is None:
        errors["year"] = "对象为已购买指定年度课程的学员时，请选择培训年度。"
    if kind == "maintenance":
        if start is None or end is None:
            errors["maintenance_start"] = "系统维护通知须填写维护开始和结束时间。"
        elif end <= start:
            errors["maintenance_end"] = "维护结束时间须晚于开始时间。"
        if audience != "all":
            errors["audience"] = "系统维护影响全体用户，对象须为全体用户。"
    elif start is not None or end is not None:
        errors["kind"] = "只有系统维护通知可以填写维护时间。"
    return errors


# A link in an SMS or e-mail is opened outside the platform (a mail app, the SMS app), where a
# bare path ("/accounts/email/confirm/…") leads nowhere: every link is absolute, built from
# SITE_URL by cpe.core.documents.absolute_url. A relative link is a path standing on its own: a
# "/" not preceded by a letter, digit, dot, colon or slash (so "2026/12", "学时/年" and the
# path inside "https://host/path" are not one), followed by a path character.
_RELATIVE_LINK = re.compile(r"(?<![\w.:/])/[A-Za-z0-9_\-][\w\-./?=&%#~+]*", re.ASCII)


def relative_links(text: str) -> list[str]:
    """The bare paths in a message body ([] when every link is absolute)."""
    # re.ASCII keeps \w to ASCII in the path; the look-behind must still see Chinese text as
    # "a word" (学时/年), so it is checked separately.
    out = []
    for m in _RELATIVE_LINK.finditer(text or ""):
        before = text[m.start() - 1] if m.start() else ""
        if before and before.isalnum():
            continue
        out.append(m.group(0))
    return out
