"""Dates and times in text built in Python (policy messages, SMS, e-mail, PDFs, admin columns):
the formats of config/formats/zh_Hans/formats.py, in Beijing time (docs/decisions/0020)."""

from datetime import date, datetime

from django.utils import formats

from .timewin import LOCAL_TZ


def local_datetime(value: datetime) -> str:
    """2026-12-03 09:23 (Asia/Shanghai) for an aware datetime."""
    return formats.date_format(value.astimezone(LOCAL_TZ), "DATETIME_FORMAT")


def local_date(value: date | datetime) -> str:
    """2026-12-03; an aware datetime is first moved to Beijing time."""
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_TZ)
    return formats.date_format(value, "DATE_FORMAT")
