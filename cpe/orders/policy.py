"""Order, payment and refund rules (rules R4-5). Pure functions: facts and `at` in."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cpe.core.datefmt import local_datetime
from cpe.core.timewin import LOCAL_TZ

from .states import Channel, OrderStatus

ORDER_PAY_TIMEOUT = timedelta(minutes=30)  # rules R4.1: unpaid orders close after 30 minutes
REFUND_WINDOW = timedelta(days=7)  # agreement §2.5, rules R5.1: 7 × 24 h from the payment time


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str = ""
    message: str = ""


def order_number(at: datetime) -> str:
    """CPE + Shanghai date-time + 6 random digits: unique, sortable, not guessable."""
    return "CPE" + at.astimezone(LOCAL_TZ).strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**6):06d}"


def order_pay_deadline(created_at: datetime) -> datetime:
    return created_at + ORDER_PAY_TIMEOUT


def order_expired(created_at: datetime, at: datetime) -> bool:
    """An unpaid order can be paid in [created_at, created_at + 30 min)."""
    return at >= order_pay_deadline(created_at)


UNPAID = "unpaid"  # the gateway answered: no payment for this order (failed, cancelled, not yet)
WAITING = "waiting"  # the gateway could not be asked (or no payment was started): no answer yet


def pending_order_view(gateway_status: str | None) -> str:
    """What the return page tells a learner whose order is still unpaid. The gateway's own query
    is the truth: when it answers that it holds no payment (Alipay WAIT_BUYER_PAY, TRADE_CLOSED
    or no trade; WeChat NOTPAY, USERPAYING, PAYERROR, CLOSED), the payment failed or was not
    made, nothing was charged, and the learner may pay again now; only when it could not be
    asked is the answer "waiting". Alipay returns the buyer to return_url only after a payment
    (with its signed parameters), WeChat H5 after any outcome, so coming back proves nothing."""
    return UNPAID if gateway_status in ("pending", "closed", "not_found") else WAITING


def purchase_decision(
    *, holds_valid: bool, product_active: bool, year_open: bool, covered_by_annual: bool = False
) -> Decision:
    """One valid holding of a product at a time (rules R4.1). A single course that a valid
    annual course of its year already opens is not sold again (it would be paid twice)."""
    if not product_active or not year_open:
        return Decision(False, "not_on_sale", "该课程目前不在售。")
    if holds_valid:
        return Decision(False, "already_held", "您已购买该课程且仍在有效期内，无需重复购买。")
    if covered_by_annual:
        return Decision(
            False, "covered_by_annual", "您已购买的年度课程包含该课程，且仍在有效期内，无需单独购买。"
        )
    return Decision(True)


def refund_decision(
    *, order_status: str, paid_at: datetime | None, year_complete: bool, at: datetime
) -> Decision:
    """A learner may request a refund iff the request is within 7 × 24 h of the payment time
    and the year's training task is not complete (agreement §2.5; rules R5.1)."""
    if order_status == OrderStatus.REFUND_REQUESTED:
        return Decision(False, "refund_pending", "该订单的退款申请正在审核中。")
    if order_status != OrderStatus.PAID or paid_at is None:
        return Decision(False, "not_paid", "只有已支付的订单可以申请退款。")
    if at >= paid_at + REFUND_WINDOW:
        deadline = (paid_at + REFUND_WINDOW).astimezone(LOCAL_TZ)
        return Decision(
            False,
            "window_passed",
            f"退款须在付款后 {REFUND_WINDOW.days} 日内申请"
            f"（截止 {local_datetime(deadline)}），现已超过期限。",
        )
    if year_complete:
        return Decision(False, "year_complete", "您已完成该年度的学习任务，依据用户协议不能退款。")
    return Decision(True)


def refund_deadline(paid_at: datetime) -> datetime:
    return paid_at + REFUND_WINDOW


# What a refund undoes beyond the money, told to the learner before they ask (refund page, order
# list) and again in the refund SMS: the user agreement's clause 2.5 closes the course, and the
# credits earned under the order are revoked here and reversed at the AIS.
REFUND_CREDITS_NOTICE = (
    "退款成功后课程关闭，该订单下已取得的学时及学时证明将被撤销；"
    "已上报《内蒙古自治区会计人员信息管理系统》（AIS）的学时将在 AIS 撤回。"
)


@dataclass(frozen=True)
class RefundReview:
    """The policy's verdict on a refund request as finance sees it, with each reason."""

    allowed: bool
    code: str
    reasons: tuple[str, ...]
    consequences: tuple[str, ...]


def refund_review(
    *,
    paid_at: datetime,
    requested_at: datetime,
    year_complete: bool,
    earned_hours: int,
    required_hours: int,
    records: int,
    record_hours: int,
    records_reported: int,
) -> RefundReview:
    """refund_decision's two conditions applied to a request under review (user agreement
    clause 2.5): was it asked within REFUND_WINDOW of the payment, and is the year's task
    complete now (learning goes on while a request waits, so it is judged on today's ledger).
    The consequences name what approving undoes: the credits under the order, and their
    reversal at the AIS for those already reported."""
    deadline = refund_deadline(paid_at).astimezone(LOCAL_TZ)
    asked = requested_at.astimezone(LOCAL_TZ)
    in_window = requested_at < refund_deadline(paid_at)
    reasons = [
        (
            f"申请时间 {local_datetime(asked)} 在付款后 {REFUND_WINDOW.days} 日内"
            f"（截止 {local_datetime(deadline)}）。"
            if in_window
            else f"申请时间 {local_datetime(asked)} 已超过付款后 {REFUND_WINDOW.days} 日"
            f"（截止 {local_datetime(deadline)}）。"
        ),
        (
            f"学员已完成该年度学习任务（有效学时 {earned_hours} / 要求 {required_hours}），"
            "依据用户协议不能退款。"
            if year_complete
            else f"该年度学习任务未完成（有效学时 {earned_hours} / 要求 {required_hours}）。"
        ),
    ]
    if not in_window:
        code = "window_passed"
    elif year_complete:
        code = "year_complete"
    else:
        code = "refundable"
    consequences = []
    if records:
        line = f"批准后将撤销该订单下已取得的 {records} 条学时记录（共 {record_hours} 学时）及其学时证明"
        line += (
            f"；其中 {records_reported} 条已上报 AIS，将向 AIS 发送撤回。"
            if records_reported
            else "；均未上报 AIS，待上报的将取消。"
        )
        consequences.append(line)
    else:
        consequences.append("该订单下尚无学时记录，批准后不涉及学时撤销。")
    return RefundReview(code == "refundable", code, tuple(reasons), tuple(consequences))


def refund_approval_decision(*, paid_at: datetime, requested_at: datetime, year_complete: bool) -> Decision:
    """Whether a waiting request may still be approved (agreement §2.5, rules R5.1-R5.2). The
    agreement makes both conditions necessary for the refund itself, not only for asking: the
    7-day window is judged at the request (a slow review costs the learner nothing), the year's
    task on today's ledger (learning goes on while a request waits). A learner who completed the
    year meanwhile has had the service the fee paid for; approving would also revoke credits
    already reported, so the request can only be rejected."""
    if requested_at >= refund_deadline(paid_at):
        return Decision(
            False,
            "window_passed",
            f"该申请提出时已超过付款后 {REFUND_WINDOW.days} 日的退款期限，不能批准，请驳回并填写审核意见。",
        )
    if year_complete:
        return Decision(
            False,
            "year_complete",
            "学员在申请待审期间已完成该年度学习任务，依据用户协议第二条第 5 项（退费的必要条件是"
            "付款后 7 天之内、没有完成年度培训任务）不能批准退款，请驳回并填写审核意见。",
        )
    return Decision(True)


def exam_evidence_label(*, passed: bool, best_score: int | None, in_progress: bool) -> str:
    """The 考试 cell of a refund's evidence for one course: a pass first, then an attempt still
    taking answers (考试中, with any earlier best score), then the best failed score, else 未参加."""
    if passed:
        return f"已合格（{best_score} 分）"
    if in_progress:
        return "考试中" + (f"（此前最高 {best_score} 分）" if best_score is not None else "")
    if best_score is not None:
        return f"未合格（最高 {best_score} 分）"
    return "未参加"


def refund_credits_sms_line(records_revoked: int) -> str:
    """The refund SMS's sentence on credits (what a refund undoes): how many records were revoked and that
    the reported ones are reversed at the AIS; empty when the order had earned none."""
    if not records_revoked:
        return ""
    return f"该订单下已取得的 {records_revoked} 条学时记录已撤销，已上报 AIS 的学时将在 AIS 撤回。"


# --- payment notifications (the gateways' asynchronous calls) ---------------------------------
# Anybody can POST to the notify URLs, so what one request may cost is bounded here. A real
# notification is small (Alipay's form ~2-3 KB, WeChat Pay v3's JSON ~1 KB).
NOTIFY_MAX_BODY_BYTES = 32 * 1024  # larger bodies get 413 before they are read or parsed
NOTIFY_UNVERIFIED_EXCERPT_BYTES = 1024  # of a body that does not verify only this much is kept
NOTIFY_RATE_PER_IP = "120/m"  # django-ratelimit rate, per client address (429 above)
# Only these request headers are kept with a notification (WeChat Pay's signature headers and
# what helps to tell who sent it), each cut to NOTIFY_HEADER_VALUE_CHARS characters.
NOTIFY_KEPT_HEADERS = (
    "Content-Type",
    "Content-Length",
    "User-Agent",
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Serial",
    "Wechatpay-Signature",
    "Wechatpay-Signature-Type",
)
NOTIFY_HEADER_VALUE_CHARS = 512


def notification_body_too_large(declared_length: int | None, received_length: int = 0) -> bool:
    """A notification body over NOTIFY_MAX_BODY_BYTES is refused (HTTP 413) unread: by its
    Content-Length when it declares one, else by what was read (limit + 1 bytes at most).
    Source: rules R4.2 (the notification is the truth: only a gateway's small signed message is
    one); attacker review (unauthenticated 2.5 MB bodies were stored)."""
    return (declared_length or 0) > NOTIFY_MAX_BODY_BYTES or received_length > NOTIFY_MAX_BODY_BYTES


def notification_kept_headers(headers: dict) -> dict:
    """The headers stored with a notification: NOTIFY_KEPT_HEADERS only (case-insensitive),
    each value cut to NOTIFY_HEADER_VALUE_CHARS. Source: attacker review (storage bound)."""
    wanted = {h.lower(): h for h in NOTIFY_KEPT_HEADERS}
    return {
        wanted[k.lower()]: str(v)[:NOTIFY_HEADER_VALUE_CHARS]
        for k, v in headers.items()
        if k.lower() in wanted
    }


def notification_stored_body(body: bytes, *, verified: bool) -> str:
    """What is kept of a notification's body: all of a verified one (it is at most
    NOTIFY_MAX_BODY_BYTES), the first NOTIFY_UNVERIFIED_EXCERPT_BYTES of any other (its digest
    goes with it, notification_body_digest). Source: rules R4.2; attacker review."""
    kept = body if verified else body[:NOTIFY_UNVERIFIED_EXCERPT_BYTES]
    return kept.decode("utf-8", "replace")


def notification_body_digest(body: bytes) -> str:
    """`sha256=<hex> bytes=<n>`: identifies a rejected body that was kept only in part."""
    return f"sha256={hashlib.sha256(body).hexdigest()} bytes={len(body)}"


# --- payment channels by device --------------------------------------------------------------------
# A phone cannot scan a QR code shown on its own screen, and Alipay's computer-website cashier is
# made for a desktop: a phone gets Alipay's mobile-website pay (alipay.trade.wap.pay) and WeChat
# Pay H5 (POST /v3/pay/transactions/h5), a computer Alipay page pay (alipay.trade.page.pay) and
# WeChat Native (a QR code to scan with the phone). The server chooses by the user agent; the page
# switches to the other set when the screen says otherwise (a phone asking for the desktop site, a
# narrow window), so either set is accepted when posted.
PHONE_CHANNELS = (Channel.ALIPAY_WAP, Channel.WECHAT_H5)
PC_CHANNELS = (Channel.ALIPAY_PAGE, Channel.WECHAT_NATIVE)
PHONE_SCREEN_MAX_PX = 600  # the page's switch: a viewport this wide or narrower is a phone
_PHONE_UA = ("Mobile", "Android", "iPhone", "iPad", "iPod", "MicroMessenger", "HarmonyOS")


def is_phone_user_agent(user_agent: str) -> bool:
    """A phone or tablet browser, by the tokens their user agents carry (iOS Safari "iPhone" /
    "Mobile", Android "Android", WeChat's browser "MicroMessenger", HarmonyOS)."""
    ua = (user_agent or "").lower()
    return any(token.lower() in ua for token in _PHONE_UA)


def channels_for(*, phone: bool) -> tuple:
    """The channels offered first on this device (the others stay on the page, hidden)."""
    return PHONE_CHANNELS if phone else PC_CHANNELS


def channel_accepted(channel: str) -> bool:
    return channel in PHONE_CHANNELS or channel in PC_CHANNELS
