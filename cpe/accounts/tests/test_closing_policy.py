"""Closing rules (rules R11) as tables: refusal, outcome, purge date. No database."""

from datetime import datetime, timedelta
from datetime import timezone as dt_tz

import pytest

from cpe.accounts import policy
from cpe.accounts.policy import ClosingOutcome, EnrolmentFacts

T = datetime(2026, 6, 1, 4, 0, tzinfo=dt_tz.utc)
S = timedelta(seconds=1)
FROM, UNTIL = T - timedelta(days=30), T + timedelta(days=60)


def enr(closed=False, total=1, recorded=0, valid_from=FROM, valid_until=UNTIL):
    return EnrolmentFacts(
        valid_from=valid_from,
        valid_until=valid_until,
        closed=closed,
        courses_total=total,
        courses_recorded=recorded,
    )


@pytest.mark.parametrize(
    "enrolments, at, refund, report, code",
    [
        ([], T, False, False, ""),
        ([enr()], T, False, False, "learning_unfinished"),
        ([enr()], UNTIL - S, False, False, "learning_unfinished"),  # the last second of validity
        ([enr()], UNTIL, False, False, ""),  # expired at valid_until
        ([enr()], FROM - S, False, False, ""),  # not yet valid
        ([enr()], FROM, False, False, "learning_unfinished"),
        ([enr(recorded=1)], T, False, False, ""),  # learning finished
        ([enr(total=3, recorded=2)], T, False, False, "learning_unfinished"),
        ([enr(closed=True)], T, False, False, ""),  # refunded enrolment
        ([enr(recorded=1), enr(valid_until=T + S)], T, False, False, "learning_unfinished"),
        ([], T, True, False, "refund_in_progress"),
        ([], T, False, True, "ais_report_pending"),
        ([enr()], T, True, True, "learning_unfinished"),  # the first reason is given
    ],
)
def test_closing_refusal(enrolments, at, refund, report, code):
    d = policy.closing_refusal(
        enrolments=enrolments, refund_in_progress=refund, ais_report_pending=report, at=at
    )
    assert d.allowed == (code == "") and d.code == code
    assert (d.message == "") == d.allowed


@pytest.mark.parametrize(
    "last, at, outcome",
    [
        (None, T, ClosingOutcome.DELETE),
        (T - timedelta(days=1), T, ClosingOutcome.ARCHIVE),
        (datetime(2023, 6, 1, 4, 0, 1, tzinfo=dt_tz.utc), T, ClosingOutcome.ARCHIVE),  # 3 years ago minus 1 s
        (datetime(2023, 6, 1, 4, 0, 0, tzinfo=dt_tz.utc), T, ClosingOutcome.ANONYMISE),  # exactly 3 years
        (datetime(2023, 6, 1, 3, 59, 59, tzinfo=dt_tz.utc), T, ClosingOutcome.ANONYMISE),  # 3 years plus 1 s
    ],
)
def test_closing_outcome(last, at, outcome):
    assert policy.closing_outcome(last_transaction_at=last, at=at) == outcome


@pytest.mark.parametrize(
    "last, purge_after",
    [
        (datetime(2026, 3, 5, 8, 30, tzinfo=dt_tz.utc), datetime(2029, 3, 5, 8, 30, tzinfo=dt_tz.utc)),
        (datetime(2024, 2, 29, 12, 0, tzinfo=dt_tz.utc), datetime(2027, 2, 28, 12, 0, tzinfo=dt_tz.utc)),
    ],
)
def test_purge_after_is_three_years_after_last_transaction(last, purge_after):
    assert policy.CLOSING_ARCHIVE_YEARS == 3
    assert policy.closing_purge_after(last) == purge_after


@pytest.mark.parametrize("at, due", [(T - S, False), (T, True), (T + S, True)])
def test_archive_purge_due(at, due):
    assert policy.archive_purge_due(purge_after=T, at=at) is due
