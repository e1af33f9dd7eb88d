"""Reads of announcements (rules R2.4)."""

from datetime import datetime
from typing import Any, Callable, Protocol

from django.db.models import QuerySet

from cpe.core.memo import ProcessMemo

from . import policy
from .models import Announcement, AnnouncementKind

MAINTENANCE_MEMO_SECONDS = 15  # every request asks; each process reads the windows this often


class Visitor(Protocol):
    """Who asks (accounts' User, or Django's anonymous user): notices is below accounts and names
    only what it reads. `region` is read of a signed-in learner only."""

    is_staff: bool
    region: str

    @property
    def is_authenticated(self) -> bool: ...


# Which training years a learner bought is orders' to know (paid orders); notices is below orders
# and never imports it (docs/architecture.md). orders registers its reader at start-up
# (OrdersConfig.ready) and the views pass it to announcements_for; nothing registered: no years.
_bought_year_ids: Callable[[Any], set] | None = None


def register_bought_year_ids(reader: Callable[[Any], set]) -> None:
    global _bought_year_ids
    _bought_year_ids = reader


def bought_year_ids_reader() -> Callable[[Any], set]:
    return _bought_year_ids or (lambda user: set())


def announcements_for(
    user: Visitor | None, at: datetime, *, bought_year_ids: Callable[[Any], set]
) -> list[Announcement]:
    """The published announcements this visitor may see, newest first. Anonymous visitors and
    staff see those for everyone; a learner also those for their region and bought years.
    `bought_year_ids(user)` gives the ids of the training years the learner bought; it is called
    only when an announcement is for a year's buyers."""
    rows = [
        a
        for a in Announcement.objects.filter(published_at__lte=at).select_related("year")
        if policy.announcement_live(published_at=a.published_at, at=at)
    ]
    learner = user is not None and user.is_authenticated and not user.is_staff
    years: set[int] = set()
    if learner and any(a.audience == "year_buyers" for a in rows):
        years = set(bought_year_ids(user))
    return [
        a
        for a in rows
        if policy.audience_includes(
            audience=a.audience,
            region=a.region,
            year_id=a.year_id,
            user_region=user.region if learner and user is not None else "",
            user_year_ids=years,
        )
    ]


def maintenance_now(at: datetime) -> tuple[str, Announcement | None]:
    """(phase, announcement): the active window if any (of every notice that is not a draft),
    else the next published one within the banner lead ("upcoming"), else ("", None). Each
    process re-reads the windows every MAINTENANCE_MEMO_SECONDS (and at once after a save in this process)."""
    rows = _windows()
    active = [
        a
        for a in rows
        if policy.maintenance_phase(start=a.maintenance_start, end=a.maintenance_end, at=at) == "active"
    ]
    if active:
        return "active", max(active, key=lambda a: a.maintenance_end)
    upcoming = [
        a
        for a in rows
        if policy.maintenance_phase(start=a.maintenance_start, end=a.maintenance_end, at=at) == "upcoming"
        and policy.announcement_live(published_at=a.published_at, at=at)
    ]
    if upcoming:
        return "upcoming", min(upcoming, key=lambda a: a.maintenance_start)
    return "", None


def _load_windows() -> QuerySet[Announcement]:
    from django.utils import timezone

    # Not drafts: a window blocks at its start even if its notice is scheduled later.
    return Announcement.objects.filter(
        kind=AnnouncementKind.MAINTENANCE, maintenance_end__gt=timezone.now(), published_at__isnull=False
    ).order_by("maintenance_start")[:20]


_windows_memo = ProcessMemo(
    seconds=MAINTENANCE_MEMO_SECONDS, load=_load_windows, model=Announcement, name="notices.maintenance"
)
_windows = _windows_memo.get
forget_windows = _windows_memo.forget
windows_known = _windows_memo.known
