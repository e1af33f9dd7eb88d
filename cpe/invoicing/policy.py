"""Invoice rules (rules R6, R5.2). Pure functions: plain facts and an explicit `at` in, a value or
a decision with a coded reason out. No ORM, no clock, no settings: the services read the
settings named below and pass their values in."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from cpe.core import datefmt
from cpe.core.timewin import local_date, local_midnight

from .states import BuyerType, UnitKind

# --- Cutoff: rules R6.1 (agreement §4.2) ----------------------------------------------------------
# An order paid in year Y (Asia/Shanghai) can be invoiced until 31 March of Y + 1, 23:59:59
# Shanghai time; from 1 April 00:00:00 it cannot.
INVOICE_CUTOFF_MONTH = 3
INVOICE_CUTOFF_DAY = 31

# Order statuses as orders.states.OrderStatus spells them (kept as strings: policy imports no
# other app's models).
ORDER_PAID = "paid"
ORDER_REFUND_REQUESTED = "refund_requested"
ORDER_REFUNDED = "refunded"


@dataclass(frozen=True)
class InvoiceDecision:
    allowed: bool
    code: str = ""
    message: str = ""
    last_day: date | None = None  # the last Shanghai calendar day an invoice can be requested


def invoice_last_day(paid_at: datetime) -> date:
    """31 March of the year after the payment's year, the year taken in Asia/Shanghai
    (a payment at 23:30 on 31 December Shanghai time belongs to that year, even though it is
    15:30 UTC; a payment at 00:10 on 1 January belongs to the new year, though UTC still
    says 31 December)."""
    return date(local_date(paid_at).year + 1, INVOICE_CUTOFF_MONTH, INVOICE_CUTOFF_DAY)


def invoice_deadline(paid_at: datetime) -> datetime:
    """The first instant at which the order can no longer be invoiced: the window is the
    half-open [paid_at, deadline)."""
    return local_midnight(invoice_last_day(paid_at) + timedelta(days=1))


def _day_label(day: date) -> str:
    return datefmt.local_date(day)


def invoice_decision(
    order_status: str, paid_at: datetime | None, has_valid_invoice: bool, at: datetime
) -> InvoiceDecision:
    """May the learner request an invoice for this order now (rules R6.1)?

    Refused when the order is not paid, is refunded, already has an invoice that has not
    been reversed (rules R6.3: one invoice per order), or the cutoff has passed.

    A refund under review (`refund_requested`) is refused too, with a message saying so.
    Why: if the refund is approved, rules R5.2 requires the invoice to be reversed at once
    with a red-letter invoice, so issuing during the review produces two tax documents for
    nothing, and a unit buyer that has already booked the blue invoice must confirm the red
    one in the tax system (红字确认单), which could hold the refund up. Waiting costs the
    learner nothing: a refund can only be requested within 7 days of payment (rules R5.1)
    while the cutoff is at least three months after payment, and a rejected request returns
    the order to `paid`, when it can be invoiced again."""
    if order_status not in (ORDER_PAID, ORDER_REFUND_REQUESTED, ORDER_REFUNDED) or paid_at is None:
        return InvoiceDecision(False, "not_paid", "该订单尚未支付，不能开具发票。")
    if order_status == ORDER_REFUNDED:
        return InvoiceDecision(False, "refunded", "该订单已退款，不能开具发票。")
    last_day = invoice_last_day(paid_at)
    if has_valid_invoice:
        return InvoiceDecision(
            False, "already_invoiced", "该订单已开具发票，每个订单只能开具一张发票。", last_day
        )
    if order_status == ORDER_REFUND_REQUESTED:
        return InvoiceDecision(
            False,
            "refund_pending",
            "该订单正在退款审核中，暂不能开具发票；如退款申请被驳回，仍可在 "
            f"{_day_label(last_day)}（含）前申请发票。",
            last_day,
        )
    if at >= invoice_deadline(paid_at):
        return InvoiceDecision(
            False,
            "past_cutoff",
            f"{local_date(paid_at).year} 年度的订单开票截止于 {_day_label(last_day)}，现已不能开具。",
            last_day,
        )
    return InvoiceDecision(True, "", f"请在 {_day_label(last_day)}（含）前申请开具发票。", last_day)


# --- Unified social credit code: GB 32100-2015 ----------------------------------------------
# 18 characters: registration authority (1), organisation type (1), administrative division
# code (6 digits), organisation code (9), check character (1). The alphabet leaves out
# I, O, Z, S and V.
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_LENGTH = 18
_USCC_SHAPE = re.compile(rf"^[{USCC_CHARS}]{{2}}\d{{6}}[{USCC_CHARS}]{{10}}$")


@dataclass(frozen=True)
class UsccCheck:
    ok: bool
    code: str = ""
    message: str = ""
    value: str = ""


def normalise_uscc(raw: str) -> str:
    """Full-width characters to ASCII (NFKC), spaces and dashes dropped, upper case."""
    return re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw or "")).upper()


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 §5: C18 = 31 − (Σ Ci × Wi mod 31), with 31 written as 0."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def check_uscc(raw: str) -> UsccCheck:
    """A unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters of the
    code's alphabet, digits in positions 3-8 (the administrative division), and the MOD 31
    check character."""
    value = normalise_uscc(raw)
    if not value:
        return UsccCheck(False, "uscc_required", "请填写统一社会信用代码。")
    if len(value) != USCC_LENGTH:
        return UsccCheck(False, "uscc_length", f"统一社会信用代码应为 18 位，您填写了 {len(value)} 位。")
    bad = sorted({c for c in value if c not in USCC_CHARS})
    if bad:
        return UsccCheck(
            False,
            "uscc_chars",
            f"统一社会信用代码不含字符 {'、'.join(bad)}（代码中不使用 I、O、Z、S、V），请核对。",
        )
    if not _USCC_SHAPE.match(value):
        return UsccCheck(False, "uscc_shape", "统一社会信用代码第 3-8 位应为行政区划代码（数字），请核对。")
    if uscc_check_char(value[:17]) != value[17]:
        return UsccCheck(False, "uscc_checksum", "统一社会信用代码校验位不正确，请核对后重新输入。")
    return UsccCheck(True, value=value)


# --- Buyer: rules R6.2 -----------------------------------------------------------------------
BUYER_NAME_MAX = 100
BUYER_NAME_MIN = 2


@dataclass(frozen=True)
class BuyerCheck:
    ok: bool
    code: str = ""
    message: str = ""
    field: str | None = None
    buyer_type: str = ""
    buyer_name: str = ""
    unit_kind: str = ""
    taxpayer_id: str = ""


def check_buyer(
    *, buyer_type: str, learner_name: str, unit_name: str, unit_kind: str, taxpayer_id: str
) -> BuyerCheck:
    """rules R6.2. A personal invoice is made out to the learner's real name only (the name
    the learner registered with, never a typed one) and carries no taxpayer ID. A unit
    invoice carries the unit's name and, for an enterprise, its taxpayer ID (the unified
    social credit code) — required, since an enterprise can only book an invoice that names
    its taxpayer ID (国家税务总局公告2017年第16号). A non-enterprise unit (行政事业单位, other
    non-enterprise units) may leave it blank; if given, it must be valid."""
    if buyer_type == BuyerType.PERSONAL:
        name = (learner_name or "").strip()
        if not name:
            return BuyerCheck(False, "no_real_name", "账号缺少姓名，不能开具个人发票。", "buyer_type")
        return BuyerCheck(True, buyer_type=BuyerType.PERSONAL, buyer_name=name)
    if buyer_type != BuyerType.UNIT:
        return BuyerCheck(False, "buyer_type", "请选择发票抬头类型（个人或单位）。", "buyer_type")
    name = re.sub(r"\s+", " ", unit_name or "").strip()
    if not name:
        return BuyerCheck(False, "unit_name_required", "请填写单位名称。", "buyer_name")
    if not BUYER_NAME_MIN <= len(name) <= BUYER_NAME_MAX:
        return BuyerCheck(
            False, "unit_name_length", f"单位名称应为 {BUYER_NAME_MIN}-{BUYER_NAME_MAX} 个字。", "buyer_name"
        )
    if unit_kind not in UnitKind.values:
        return BuyerCheck(False, "unit_kind", "请选择单位类型。", "unit_kind")
    raw_id = normalise_uscc(taxpayer_id)
    if not raw_id and unit_kind != UnitKind.ENTERPRISE:
        return BuyerCheck(True, buyer_type=BuyerType.UNIT, buyer_name=name, unit_kind=unit_kind)
    if not raw_id:
        return BuyerCheck(
            False, "taxpayer_id_required", "企业抬头必须填写统一社会信用代码（纳税人识别号）。", "taxpayer_id"
        )
    uscc = check_uscc(raw_id)
    if not uscc.ok:
        return BuyerCheck(False, uscc.code, uscc.message, "taxpayer_id")
    return BuyerCheck(
        True, buyer_type=BuyerType.UNIT, buyer_name=name, unit_kind=unit_kind, taxpayer_id=uscc.value
    )


# --- Item and tax: rules R6.2 ----------------------------------------------------------------
# The item as the 数电票 prints it: *short name of the tax classification*goods name. The
# platform sells non-degree education and training (非学历教育服务).
ITEM_NAME = "*教育服务*非学历教育培训服务"
ITEM_UNIT = "项"
# Rate in permille (60 = 6 %). Overridden by settings.INVOICE_TAX_RATE_PERMILLE (an integer),
# which the seller sets to its own rate: 6 % for a general taxpayer, 3 % or the reduced 1 %
# for a small-scale taxpayer.
DEFAULT_TAX_RATE_PERMILLE = 60
ALLOWED_TAX_RATES_PERMILLE = (10, 30, 60)


@dataclass(frozen=True)
class TaxSplit:
    total_fen: int  # price including tax (价税合计)
    net_fen: int  # amount excluding tax (金额)
    tax_fen: int  # tax (税额)
    rate_permille: int


def check_tax_rate(rate_permille: int) -> int:
    if rate_permille not in ALLOWED_TAX_RATES_PERMILLE:
        raise ValueError(
            f"INVOICE_TAX_RATE_PERMILLE must be one of {ALLOWED_TAX_RATES_PERMILLE}, not {rate_permille!r}"
        )
    return rate_permille


def tax_split(total_fen: int, rate_permille: int) -> TaxSplit:
    """Prices include tax: tax = total × r / (1 + r), rounded half up to the fen; amount
    excluding tax = total − tax, so the two always add back to the price. A negative total (a
    red invoice) splits as the exact mirror of the positive one."""
    check_tax_rate(rate_permille)
    sign = -1 if total_fen < 0 else 1
    total = abs(int(total_fen))
    rate = Decimal(rate_permille) / 1000
    tax = int((Decimal(total) * rate / (1 + rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return TaxSplit(sign * total, sign * (total - tax), sign * tax, rate_permille)


def tax_rate_label(rate_permille: int) -> str:
    """60 → "6%", 15 → "1.5%"."""
    value = (Decimal(rate_permille) / 10).normalize()
    return f"{value:f}%"


# --- 价税合计（大写）: Chinese capital numerals --------------------------------------------
# 《正确填写票据和结算凭证的基本规定》(中国人民银行): capitals 零壹贰叁肆伍陆柒捌玖拾佰仟万亿;
# "整" after 元 when there is no 角 or 分, and (optional, written here) after 角 when there is
# no 分; a zero between non-zero digits is written once (壹仟零伍元); 角 zero with 分 non-zero
# is written 零 (叁佰贰拾伍元零肆分); a 10-something starts with 壹 (壹拾元整). Where the rule
# lets a 零 be written or not (the 元 or 万 digit zero, the next one not), this writes the form
# the rule's own second examples show: ￥1680.32 壹仟陆佰捌拾元叁角贰分, ￥107000.53
# 壹拾万零柒仟元伍角叁分.
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_BIG_UNITS = ("", "万", "亿")
CAPITALS_MAX_YUAN = 10**12 - 1
NEGATIVE_PREFIX = "（负数）"


def _yuan_in_capitals(yuan: int) -> str:
    digits = str(yuan)
    out: list[str] = []
    pending_zero, group_has_digit = False, False
    for i, ch in enumerate(digits):
        pos = len(digits) - 1 - i
        d = int(ch)
        if d == 0:
            pending_zero = bool(out)
        else:
            if pending_zero:
                out.append("零")
                pending_zero = False
            out.append(_DIGITS[d] + _SMALL_UNITS[pos % 4])
            group_has_digit = True
        if pos % 4 == 0 and pos > 0:
            if group_has_digit:
                out.append(_BIG_UNITS[pos // 4])
            group_has_digit = False
    return "".join(out)


def amount_in_capitals(fen: int) -> str:
    """19800 → 壹佰玖拾捌元整; 32504 → 叁佰贰拾伍元零肆分; 50 → 伍角整; 0 → 零元整;
    −19800 → （负数）壹佰玖拾捌元整 (a red invoice)."""
    fen = int(fen)
    if fen < 0:
        return NEGATIVE_PREFIX + amount_in_capitals(-fen)
    yuan, jiao, cents = fen // 100, fen // 10 % 10, fen % 10
    if yuan > CAPITALS_MAX_YUAN:
        raise ValueError("amount too large")
    if fen == 0:
        return "零元整"
    text = _yuan_in_capitals(yuan) + "元" if yuan else ""
    if jiao == 0 and cents == 0:
        return text + "整"
    if jiao == 0:
        return text + ("零" if yuan else "") + _DIGITS[cents] + "分"
    text += _DIGITS[jiao] + "角"
    return text + (_DIGITS[cents] + "分" if cents else "整")


# --- Invoice number: 数电票, 20 digits ------------------------------------------------------
# 2-digit year + 2-digit province code + 1-digit issuing channel + 15-digit sequence
# (国家税务总局 全面数字化的电子发票 numbering). 15 is Inner Mongolia.
INVOICE_NUMBER_LENGTH = 20
INVOICE_REGION_CODE = "15"
SEQUENCE_DIGITS = 15
_NUMBER_SHAPE = re.compile(r"^\d{20}$")


def compose_invoice_number(*, year: int, region_code: str, channel: int, sequence: int) -> str:
    if (
        not (0 < sequence < 10**SEQUENCE_DIGITS)
        or not (0 <= channel <= 9)
        or not re.fullmatch(r"\d{2}", region_code)
    ):
        raise ValueError("invoice number part out of range")
    return f"{year % 100:02d}{region_code}{channel}{sequence:0{SEQUENCE_DIGITS}d}"


def is_invoice_number(raw: str) -> bool:
    return bool(_NUMBER_SHAPE.match(raw or ""))
