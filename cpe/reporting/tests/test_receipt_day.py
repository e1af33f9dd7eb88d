"""The AIS numbers a receipt by the Beijing day, the day the platform shows (not the UTC day):
the simulator's store around midnight in Shanghai."""

from datetime import datetime, timedelta, timezone

import pytest

from ais_sim.store import Store, beijing_day

BODY = {"idempotency_key": "k1", "person_id": "P1", "year": 2026, "course_code": "C1"}


@pytest.mark.parametrize(
    "utc, day",
    [
        (datetime(2026, 12, 2, 15, 59, 59, tzinfo=timezone.utc), "20261202"),  # 23:59:59 Beijing
        (datetime(2026, 12, 2, 16, 0, 0, tzinfo=timezone.utc), "20261203"),  # 00:00:00 Beijing
        (datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc), "20270101"),  # New Year in Beijing first
    ],
)
def test_receipt_and_reversal_carry_the_beijing_day(utc, day):
    store = Store()
    created, receipt = store.credit_record(dict(BODY), at=utc)
    assert created and receipt.startswith("AIS" + day) and len(receipt) == len("AIS") + 8 + 8
    rev = store.credit_reverse(receipt, idempotency_key="r1", reason="退款", at=utc + timedelta(seconds=1))
    assert rev["reversal_no"].startswith("REV" + beijing_day(utc + timedelta(seconds=1)))


def test_the_same_key_keeps_its_first_receipt_across_midnight():
    store = Store()
    before = datetime(2026, 12, 2, 15, 59, 59, tzinfo=timezone.utc)
    _, first = store.credit_record(dict(BODY), at=before)
    created, again = store.credit_record(dict(BODY), at=before + timedelta(seconds=2))
    assert not created and again == first and first.startswith("AIS20261202")
