"""Invoice rules as tables (no database). Instants are written in UTC: Shanghai is UTC+8, so
31 March 23:59:59 Shanghai is 31 March 15:59:59Z and 1 April 00:00:00 is 31 March 16:00:00Z."""

from datetime import date, datetime
from datetime import timezone as dt_timezone

import pytest

from cpe.invoicing import policy
from cpe.invoicing.states import BuyerType, UnitKind


def utc(*args):
    return datetime(*args, tzinfo=dt_timezone.utc)


# --- cutoff ---------------------------------------------------------------------------------
CUTOFF_CASES = [
    # (paid_at, at, allowed, code)
    (
        "mid-year payment, a second before the cutoff",
        utc(2025, 6, 1, 2),
        utc(2026, 3, 31, 15, 59, 59),
        True,
        "",
    ),
    ("mid-year payment, at the cutoff", utc(2025, 6, 1, 2), utc(2026, 3, 31, 16, 0, 0), False, "past_cutoff"),
    ("mid-year payment, long after", utc(2025, 6, 1, 2), utc(2027, 1, 1), False, "past_cutoff"),
    ("right after payment", utc(2025, 6, 1, 2), utc(2025, 6, 1, 2, 0, 1), True, ""),
    # 23:30 on 31 Dec Shanghai is 15:30Z the same day: the payment belongs to 2025.
    (
        "31 Dec 23:30 Shanghai, second before",
        utc(2025, 12, 31, 15, 30),
        utc(2026, 3, 31, 15, 59, 59),
        True,
        "",
    ),
    (
        "31 Dec 23:30 Shanghai, at the cutoff",
        utc(2025, 12, 31, 15, 30),
        utc(2026, 3, 31, 16),
        False,
        "past_cutoff",
    ),
    # 00:10 on 1 Jan 2026 Shanghai is still 31 Dec 2025 in UTC: the payment belongs to 2026.
    ("1 Jan 00:10 Shanghai, after the 2025 cutoff", utc(2025, 12, 31, 16, 10), utc(2026, 4, 1), True, ""),
    (
        "1 Jan 00:10 Shanghai, a second before 2027 cutoff",
        utc(2025, 12, 31, 16, 10),
        utc(2027, 3, 31, 15, 59, 59),
        True,
        "",
    ),
    (
        "1 Jan 00:10 Shanghai, at the 2027 cutoff",
        utc(2025, 12, 31, 16, 10),
        utc(2027, 3, 31, 16),
        False,
        "past_cutoff",
    ),
    # A leap day payment: the cutoff is still 31 March of the next year.
    ("29 Feb 2024 payment, second before", utc(2024, 2, 29, 4), utc(2025, 3, 31, 15, 59, 59), True, ""),
    ("29 Feb 2024 payment, at the cutoff", utc(2024, 2, 29, 4), utc(2025, 3, 31, 16), False, "past_cutoff"),
    # 29 Feb 00:30 Shanghai is 28 Feb 16:30Z.
    ("29 Feb 00:30 Shanghai", utc(2024, 2, 28, 16, 30), utc(2025, 3, 31, 15, 59, 59), True, ""),
    # Paid on 31 March itself: invoiceable for a year, not only that day.
    ("paid on 31 March, invoiceable until next year", utc(2026, 3, 31, 15, 0), utc(2026, 4, 1), True, ""),
]


@pytest.mark.parametrize("label,paid_at,at,allowed,code", CUTOFF_CASES, ids=[c[0] for c in CUTOFF_CASES])
def test_invoice_cutoff(label, paid_at, at, allowed, code):
    d = policy.invoice_decision("paid", paid_at, False, at)
    assert (d.allowed, d.code) == (allowed, code)


def test_cutoff_message_says_the_date_and_deadline_is_shanghai_midnight():
    d = policy.invoice_decision("paid", utc(2025, 6, 1), False, utc(2026, 4, 2))
    assert d.message == "2025 年度的订单开票截止于 2026-03-31，现已不能开具。"
    assert d.last_day == date(2026, 3, 31)
    assert policy.invoice_deadline(utc(2025, 6, 1)) == utc(2026, 3, 31, 16)
    assert policy.invoice_last_day(utc(2025, 12, 31, 16, 10)) == date(2027, 3, 31)
    ok = policy.invoice_decision("paid", utc(2025, 6, 1), False, utc(2025, 6, 2))
    assert "2026-03-31" in ok.message


STATUS_CASES = [
    ("pending", None, False, "not_paid"),
    ("closed", None, False, "not_paid"),
    ("paid", None, False, "not_paid"),  # inconsistent row: treated as unpaid
    ("refunded", utc(2025, 6, 1), False, "refunded"),
    ("refund_requested", utc(2025, 6, 1), False, "refund_pending"),
    ("refund_requested", utc(2025, 6, 1), True, "already_invoiced"),
    ("paid", utc(2025, 6, 1), True, "already_invoiced"),
    ("paid", utc(2025, 6, 1), False, ""),
    ("unknown", utc(2025, 6, 1), False, "not_paid"),
]


@pytest.mark.parametrize("status,paid_at,has_invoice,code", STATUS_CASES)
def test_invoice_decision_by_order_status(status, paid_at, has_invoice, code):
    d = policy.invoice_decision(status, paid_at, has_invoice, utc(2025, 7, 1))
    assert d.code == code and d.allowed == (code == "")
    if not d.allowed:
        assert d.message


def test_refund_pending_message_explains():
    d = policy.invoice_decision("refund_requested", utc(2025, 6, 1), False, utc(2025, 6, 2))
    assert "退款审核中" in d.message and "2026-03-31" in d.message
    # The date is the invoice deadline: it must not read as a date for asking the refund again.
    assert "仍可在 2026-03-31（含）前申请发票" in d.message and "再申请" not in d.message


# --- unified social credit code -------------------------------------------------------------
def test_uscc_check_char_on_a_computed_code():
    first17 = "91150102MA0Q1234"[:16] + "5"
    code = first17 + policy.uscc_check_char(first17)
    assert policy.check_uscc(code).ok


USCC_CASES = [
    # (raw, ok, code, normalised)
    ("91350100M000100Y43", True, "", "91350100M000100Y43"),  # the GB 32100 worked example
    ("914403001922038216", True, "", "914403001922038216"),  # a real enterprise's code
    ("91150100MA0N000000", True, "", "91150100MA0N000000"),  # check char 0 (31 − 0 → 0)
    ("91350100m000100y43", True, "", "91350100M000100Y43"),  # lower case accepted
    ("９１３５０１００Ｍ０００１００Ｙ４３", True, "", "91350100M000100Y43"),  # full-width
    (" 9135 0100 M000-100Y43 ", True, "", "91350100M000100Y43"),  # spaces and dashes
    ("91350100M000100Y44", False, "uscc_checksum", ""),
    ("91350100M000100Y4", False, "uscc_length", ""),
    ("91350100M000100Y433", False, "uscc_length", ""),
    ("91350100M0001O0Y43", False, "uscc_chars", ""),  # letter O
    ("91350100I000100Y43", False, "uscc_chars", ""),  # letter I
    ("9135010AM000100Y43", False, "uscc_shape", ""),  # region code not digits
    ("", False, "uscc_required", ""),
]


@pytest.mark.parametrize("raw,ok,code,value", USCC_CASES)
def test_check_uscc(raw, ok, code, value):
    r = policy.check_uscc(raw)
    assert (r.ok, r.code) == (ok, code)
    if ok:
        assert r.value == value
    else:
        assert r.message


# --- buyer ----------------------------------------------------------------------------------
BUYER_CASES = [
    # (buyer_type, unit_name, unit_kind, taxpayer_id, ok, code, field)
    ("personal", "别人的名字", "", "914403001922038216", True, "", None),
    ("unit", "包头市某某会计师事务所有限公司", "enterprise", "914403001922038216", True, "", None),
    (
        "unit",
        "包头市某某会计师事务所有限公司",
        "enterprise",
        "",
        False,
        "taxpayer_id_required",
        "taxpayer_id",
    ),
    (
        "unit",
        "包头市某某会计师事务所有限公司",
        "enterprise",
        "914403001922038217",
        False,
        "uscc_checksum",
        "taxpayer_id",
    ),
    ("unit", "包头市财政局", "public", "", True, "", None),
    ("unit", "包头市财政局", "public", "12345", False, "uscc_length", "taxpayer_id"),
    ("unit", "某某协会", "other", "", True, "", None),
    ("unit", "某某协会", "", "", False, "unit_kind", "unit_kind"),
    ("unit", "某某协会", "bank", "", False, "unit_kind", "unit_kind"),
    ("unit", "   ", "public", "", False, "unit_name_required", "buyer_name"),
    ("unit", "某", "public", "", False, "unit_name_length", "buyer_name"),
    ("unit", "某" * 101, "public", "", False, "unit_name_length", "buyer_name"),
    ("", "", "", "", False, "buyer_type", "buyer_type"),
]


@pytest.mark.parametrize("buyer_type,unit_name,unit_kind,taxpayer_id,ok,code,field", BUYER_CASES)
def test_check_buyer(buyer_type, unit_name, unit_kind, taxpayer_id, ok, code, field):
    r = policy.check_buyer(
        buyer_type=buyer_type,
        learner_name="张三",
        unit_name=unit_name,
        unit_kind=unit_kind,
        taxpayer_id=taxpayer_id,
    )
    assert (r.ok, r.code, r.field) == (ok, code, field)


def test_personal_buyer_is_the_learner_without_taxpayer_id():
    r = policy.check_buyer(
        buyer_type=BuyerType.PERSONAL,
        learner_name="张三",
        unit_name="李四公司",
        unit_kind=UnitKind.ENTERPRISE,
        taxpayer_id="914403001922038216",
    )
    assert (r.buyer_name, r.taxpayer_id, r.unit_kind) == ("张三", "", "")


def test_unit_buyer_values_are_normalised():
    r = policy.check_buyer(
        buyer_type="unit",
        learner_name="张三",
        unit_name="  包头市  某公司 ",
        unit_kind="enterprise",
        taxpayer_id="914403001922038216".lower(),
    )
    assert (r.buyer_name, r.taxpayer_id) == ("包头市 某公司", "914403001922038216")


# --- tax ------------------------------------------------------------------------------------
TAX_CASES = [
    # (total_fen, rate_permille, net_fen, tax_fen)
    (19800, 60, 18679, 1121),  # 198 × 0.06 / 1.06 = 11.2075 → 11.21
    (10000, 60, 9434, 566),  # 5.660… → 5.66
    (10000, 30, 9709, 291),  # 2.912… → 2.91
    (10000, 10, 9901, 99),  # 0.990… → 0.99
    (1, 60, 1, 0),
    (9, 60, 8, 1),  # 0.509… fen → 1
    (-19800, 60, -18679, -1121),  # a red invoice mirrors the blue one
]


@pytest.mark.parametrize("total,rate,net,tax", TAX_CASES)
def test_tax_split(total, rate, net, tax):
    s = policy.tax_split(total, rate)
    assert (s.total_fen, s.net_fen, s.tax_fen) == (total, net, tax)


def test_tax_split_always_adds_up_and_mirrors():
    for rate in policy.ALLOWED_TAX_RATES_PERMILLE:
        for total in range(1, 50001, 7):
            s = policy.tax_split(total, rate)
            assert s.net_fen + s.tax_fen == total
            assert policy.tax_split(-total, rate).tax_fen == -s.tax_fen


def test_tax_rate_must_be_allowed_and_labels():
    with pytest.raises(ValueError):
        policy.tax_split(100, 170)
    assert [policy.tax_rate_label(r) for r in (60, 30, 10, 15)] == ["6%", "3%", "1%", "1.5%"]
    assert policy.DEFAULT_TAX_RATE_PERMILLE == 60


# --- capital numerals -----------------------------------------------------------------------
CAPITALS = [
    (19800, "壹佰玖拾捌元整"),
    (0, "零元整"),
    (5, "伍分"),
    (50, "伍角整"),
    (1000, "壹拾元整"),
    (1010, "壹拾元壹角整"),
    (32504, "叁佰贰拾伍元零肆分"),  # 角 zero, 分 not: 零 is required
    (168032, "壹仟陆佰捌拾元叁角贰分"),  # PBOC example ￥1680.32 (form without 零)
    (10700053, "壹拾万零柒仟元伍角叁分"),  # PBOC example ￥107000.53 (form with 零 after 万)
    (140950, "壹仟肆佰零玖元伍角整"),  # PBOC example ￥1409.50
    (600714, "陆仟零柒元壹角肆分"),  # PBOC example ￥6007.14
    (100001, "壹仟元零壹分"),
    (100000, "壹仟元整"),
    (10000000, "壹拾万元整"),
    (100000500, "壹佰万零伍元整"),
    (101000000, "壹佰零壹万元整"),
    (10000000000, "壹亿元整"),
    (10000050000, "壹亿零伍佰元整"),
    (1234567890123, "壹佰贰拾叁亿肆仟伍佰陆拾柒万捌仟玖佰零壹元贰角叁分"),
    (-19800, "（负数）壹佰玖拾捌元整"),
]


@pytest.mark.parametrize("fen,text", CAPITALS)
def test_amount_in_capitals(fen, text):
    assert policy.amount_in_capitals(fen) == text


def test_amount_in_capitals_refuses_absurd_amounts():
    with pytest.raises(ValueError):
        policy.amount_in_capitals(10**14 * 100)


# --- invoice number -------------------------------------------------------------------------
def test_invoice_number_is_20_digits_year_region_channel_sequence():
    n = policy.compose_invoice_number(year=2026, region_code="15", channel=0, sequence=1)
    assert n == "26150000000000000001" and policy.is_invoice_number(n)
    assert (
        policy.compose_invoice_number(year=2030, region_code="15", channel=0, sequence=999_999_999_999_999)
        == "30150999999999999999"
    )
    with pytest.raises(ValueError):
        policy.compose_invoice_number(year=2026, region_code="15", channel=0, sequence=10**15)
    assert not policy.is_invoice_number("2615000000000000001")
    assert not policy.is_invoice_number("2615000000000000000A")
