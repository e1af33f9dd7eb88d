"""Time windows, defined once (conventions C4): stored in UTC, reasoned about in
Asia/Shanghai, half-open [start, end)."""

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


def local_date(at: datetime) -> date:
    """The calendar day in Asia/Shanghai of an aware instant."""
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    return at.astimezone(LOCAL_TZ).date()


def local_midnight(day: date) -> datetime:
    """The instant a Shanghai calendar day begins."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)
