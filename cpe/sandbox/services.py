"""What the sandbox gateway does: open trades, settle them as the buyer chooses, deliver signed
asynchronous notifications (first attempt synchronous, retries in a background thread),
answer queries and refunds.

Notification retries imitate the real schedules (Alipay: 4 min ... 15 h over 25 h; WeChat
Pay: 15 s ... 3 h) compressed to seconds: RETRY_DELAYS, until the answer is "success" (Alipay)
or 2xx (WeChat Pay).
"""

import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import InvalidOperation
from urllib.parse import urlencode

import requests
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from cpe.core.money import fen_to_yuan, yuan_to_fen

from . import keys, protocol
from .models import SandboxDelivery, SandboxRefund, SandboxTrade

log = logging.getLogger(__name__)

# send(url, headers, body) -> (status, text): what replaces HTTP in tests.
Send = Callable[[str, dict, bytes], tuple[int, str]]

RETRY_DELAYS = (1, 2, 4, 8, 16, 32)  # seconds between attempts after the first one
SEND_TIMEOUT = (3, 10)  # (connect, read) seconds per attempt
OUTCOMES = ("success", "fail", "no_notify")


class Refused(Exception):
    """A request the gateway refuses; `reason` is protocol-neutral, the views map it."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


# -- opening trades ---------------------------------------------------------------------------
def _trade_no(gateway: str) -> str:
    day = timezone.localdate().strftime("%Y%m%d")
    digits = "".join(secrets.choice("0123456789") for _ in range(15))
    return f"{day}22001{digits}" if gateway == "alipay" else f"4200{day[2:]}{digits}{secrets.randbelow(10)}"


def _open(
    gateway: str,
    kind: str,
    out_trade_no: str,
    *,
    subject: str,
    amount_fen: int,
    notify_url: str,
    return_url: str,
    expires_at: datetime | None,
    request: dict,
) -> SandboxTrade:
    """Create the trade, or update an unpaid one opened before with the same out_trade_no (as
    both gateways let a buyer come back to the cashier). A paid or closed trade is refused."""
    if not out_trade_no or len(out_trade_no) > 64:
        raise Refused("invalid", "out_trade_no 无效")
    if amount_fen <= 0:
        raise Refused("invalid", "金额必须大于 0")
    if not notify_url.startswith(("http://", "https://")):
        raise Refused("invalid", "notify_url 无效")
    fields = dict(
        kind=kind,
        subject=subject,
        amount_fen=amount_fen,
        notify_url=notify_url,
        return_url=return_url,
        expires_at=expires_at,
        request=request,
    )
    mine = SandboxTrade.objects.select_for_update().filter(gateway=gateway, out_trade_no=out_trade_no)
    with transaction.atomic():
        trade = mine.first()
        if trade is None:
            try:
                with transaction.atomic():
                    return SandboxTrade.objects.create(
                        gateway=gateway,
                        out_trade_no=out_trade_no,
                        trade_no=_trade_no(gateway),
                        token=secrets.token_urlsafe(24),
                        **fields,
                    )
            except IntegrityError:  # opened concurrently: use that one
                trade = mine.get()
        if trade.status == SandboxTrade.Status.PAID:
            raise Refused("paid", "该订单已支付")
        if trade.effective_status == SandboxTrade.Status.CLOSED:
            raise Refused("closed", "该交易已关闭")
        for name, value in fields.items():
            setattr(trade, name, value)
        trade.save()
        return trade


def alipay_open(params: dict) -> SandboxTrade:
    """A verified alipay.trade.page.pay / wap.pay request (the browser arrives at the cashier)."""
    try:
        biz = json.loads(params.get("biz_content", ""))
        amount_fen = yuan_to_fen(biz.get("total_amount", ""))
    except (ValueError, InvalidOperation, AttributeError) as exc:
        raise Refused("invalid", f"biz_content 无效：{exc}") from exc
    expires_at = None
    if biz.get("time_expire"):
        try:
            expires_at = datetime.strptime(biz["time_expire"], "%Y-%m-%d %H:%M:%S")
            expires_at = expires_at.replace(tzinfo=protocol.SHANGHAI)
        except ValueError as exc:
            raise Refused("invalid", "time_expire 格式错误") from exc
    kind = "page" if params.get("method") == "alipay.trade.page.pay" else "wap"
    return _open(
        "alipay",
        kind,
        str(biz.get("out_trade_no", "")),
        subject=str(biz.get("subject", ""))[:256],
        amount_fen=amount_fen,
        notify_url=params.get("notify_url", ""),
        return_url=params.get("return_url", ""),
        expires_at=expires_at,
        request=params,
    )


def wechat_open(kind: str, body: dict) -> SandboxTrade:
    """A verified POST /v3/pay/transactions/native or /h5."""
    amount = body.get("amount") or {}
    total = amount.get("total")
    if type(total) is not int or amount.get("currency", "CNY") != "CNY":
        raise Refused("invalid", "amount.total 必须为整数（分）")
    if not body.get("description"):
        raise Refused("invalid", "description 不能为空")
    if kind == "h5" and not (body.get("scene_info") or {}).get("payer_client_ip"):
        raise Refused("invalid", "scene_info.payer_client_ip 不能为空")
    expires_at = None
    if body.get("time_expire"):
        try:
            expires_at = datetime.fromisoformat(body["time_expire"])
        except ValueError as exc:
            raise Refused("invalid", "time_expire 格式错误") from exc
    return _open(
        "wechat",
        kind,
        str(body.get("out_trade_no", "")),
        subject=str(body["description"])[:256],
        amount_fen=total,
        notify_url=str(body.get("notify_url", "")),
        return_url="",
        expires_at=expires_at,
        request=body,
    )


# -- settling (the three buttons) -------------------------------------------------------------
@dataclass
class Settled:
    trade: SandboxTrade
    delivery: SandboxDelivery | None  # the first notification attempt, if one was made
    redirect_url: str  # where the buyer's browser goes next ("" = stay)


def settle(trade: SandboxTrade, outcome: str, *, redirect_url: str = "", send: Send | None = None) -> Settled:
    """What the pay page's buttons do.

    success   - the trade is paid; the first notification attempt is made before returning
                (retries, if it failed, continue in a background thread);
    fail      - nothing is paid (the buyer gave up); back to the merchant;
    no_notify - the trade is paid but no notification is ever sent (the merchant must query).

    `send(url, headers, body) -> (status, text)` replaces HTTP for the first attempt (tests);
    with it no retries are scheduled."""
    if outcome not in OUTCOMES:
        raise ValueError(outcome)
    delivery = None
    if outcome in ("success", "no_notify"):
        if trade.effective_status == SandboxTrade.Status.CLOSED:
            raise Refused("closed", "该交易已关闭")
        now = timezone.now()
        newly_paid = SandboxTrade.objects.filter(pk=trade.pk, status=SandboxTrade.Status.WAIT).update(
            status=SandboxTrade.Status.PAID, paid_at=now, notify_id=_notify_id(trade)
        )
        trade.refresh_from_db()
        if newly_paid and outcome == "success":
            delivery = deliver(trade, attempt=1, send=send)
            if not delivery.ok and send is None:
                schedule_retries(trade)
    return Settled(trade=trade, delivery=delivery, redirect_url=_return_to(trade, outcome, redirect_url))


def _notify_id(trade: SandboxTrade) -> str:
    if trade.gateway == "alipay":
        # Alipay notify ids begin with the date of the notice (yyyymmdd).
        return timezone.localdate().strftime("%Y%m%d") + secrets.token_hex(12)
    return "EV-" + secrets.token_hex(12).upper()


def _return_to(trade: SandboxTrade, outcome: str, redirect_url: str) -> str:
    if trade.gateway == "wechat":
        return redirect_url  # h5: redirect_url appended to h5_url; native: none
    if not trade.return_url:
        return ""
    if outcome == "fail" or trade.status != SandboxTrade.Status.PAID:
        return trade.return_url
    # Alipay appends signed synchronous-return parameters to return_url.
    app = keys.ALIPAY_APP_ID
    params = protocol.alipay_sign_notification(
        {
            "method": f"alipay.trade.{trade.kind}.pay.return",
            "app_id": app,
            "auth_app_id": app,
            "charset": "utf-8",
            "version": "1.0",
            "timestamp": protocol.beijing(timezone.now()),
            "out_trade_no": trade.out_trade_no,
            "trade_no": trade.trade_no,
            "total_amount": fen_to_yuan(trade.amount_fen),
            "seller_id": keys.ALIPAY_SELLER_ID,
        },
        keys.sandbox_keys().alipay_gateway_private_pem,
    )
    sep = "&" if "?" in trade.return_url else "?"
    return trade.return_url + sep + urlencode(params)


# -- notifications ----------------------------------------------------------------------------
def notification(trade: SandboxTrade) -> tuple[dict, bytes]:
    """(headers, body) of the payment notification for a paid trade, freshly signed."""
    k = keys.sandbox_keys()
    if trade.gateway == "alipay":
        params = protocol.alipay_notification_params(
            app_id=keys.ALIPAY_APP_ID,
            seller_id=keys.ALIPAY_SELLER_ID,
            out_trade_no=trade.out_trade_no,
            trade_no=trade.trade_no,
            total_amount=fen_to_yuan(trade.amount_fen),
            subject=trade.subject,
            notify_id=trade.notify_id,
            gmt_create=trade.created_at,
            gmt_payment=trade.paid_at,  # type: ignore[arg-type]  # only a paid trade is notified
        )
        signed = protocol.alipay_sign_notification(params, k.alipay_gateway_private_pem)
        return (
            {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            protocol.alipay_form(signed),
        )
    resource = protocol.wechat_encrypt_resource(
        protocol.wechat_transaction(
            mchid=keys.WECHAT_MCHID,
            appid=keys.WECHAT_APPID,
            out_trade_no=trade.out_trade_no,
            transaction_id=trade.trade_no,
            trade_type="NATIVE" if trade.kind == "native" else "MWEB",
            amount_fen=trade.amount_fen,
            success_time=trade.paid_at,
        ),
        k.wechat_apiv3_key,
    )
    body = protocol.wechat_notification_body(trade.notify_id, resource)
    headers = protocol.wechat_signed_headers(
        body, k.wechat_platform_private_pem, keys.WECHAT_PLATFORM_PUBLIC_KEY_ID
    )
    headers["Content-Type"] = "application/json"
    return headers, body.encode("utf-8")


def accepted(gateway: str, status: int | None, text: str) -> bool:
    """Did the merchant acknowledge? Alipay: body "success"; WeChat Pay: HTTP 2xx."""
    if status is None:
        return False
    if gateway == "alipay":
        return status == 200 and text.strip() == "success"
    return 200 <= status < 300


def http_send(url: str, headers: dict, body: bytes) -> tuple[int, str]:
    with requests.Session() as session:
        session.trust_env = False  # the merchant is this machine: never via a proxy
        resp = session.post(url, data=body, headers=headers, timeout=SEND_TIMEOUT, allow_redirects=False)
        return resp.status_code, resp.text


def deliver(trade: SandboxTrade, *, attempt: int, send: Send | None = None) -> SandboxDelivery:
    """One attempt to deliver the notification of a paid trade; recorded."""
    headers, body = notification(trade)
    status: int | None = None
    text, error = "", ""
    try:
        status, text = (send or http_send)(trade.notify_url, headers, body)
    except Exception as exc:  # connection refused, timeout...: a failed attempt, retried later
        error = f"{type(exc).__name__}: {exc}"[:500]
    ok = accepted(trade.gateway, status, text)
    log.info("sandbox notification %s attempt %s -> %s %s", trade, attempt, status, error or text[:40])
    return SandboxDelivery.objects.create(
        trade=trade, attempt=attempt, status_code=status, answer=(text or "")[:500], ok=ok, error=error
    )


_retry_lock = threading.Lock()
_retries: dict[int, tuple[threading.Thread, threading.Event]] = {}


def schedule_retries(trade: SandboxTrade) -> None:
    """Retry in a background thread (one per trade) until acknowledged or RETRY_DELAYS run out."""
    with _retry_lock:
        running = _retries.get(trade.pk)
        if running and running[0].is_alive():
            return
        stop = threading.Event()
        thread = threading.Thread(
            target=_retry_loop, args=(trade.pk, stop), daemon=True, name=f"sandbox-notify-{trade.pk}"
        )
        _retries[trade.pk] = (thread, stop)
        thread.start()


def _retry_loop(trade_pk: int, stop: threading.Event) -> None:
    try:
        for attempt, delay in enumerate(RETRY_DELAYS, start=2):
            if stop.wait(delay):
                return
            try:
                trade = SandboxTrade.objects.get(pk=trade_pk)
                if deliver(trade, attempt=attempt).ok:
                    return
            except Exception:  # the database went away (e.g. a test ended): give up quietly
                log.exception("sandbox notification retry failed")
                return
            finally:
                close_old_connections()
                connection.close()  # never hold a connection while sleeping
    finally:
        with _retry_lock:
            if _retries.get(trade_pk, (None,))[0] is threading.current_thread():
                del _retries[trade_pk]


def stop_retries(timeout: float = 5.0) -> None:
    """Stop every pending retry and wait for the threads to end (tests call this)."""
    with _retry_lock:
        running = list(_retries.values())
    for _, stop in running:
        stop.set()
    for thread, _ in running:
        thread.join(timeout)


def wait_retries(timeout: float = 60.0) -> None:
    """Wait until every scheduled retry has finished (acknowledged or given up)."""
    with _retry_lock:
        running = [t for t, _ in _retries.values()]
    for thread in running:
        thread.join(timeout)


# -- query and refund -------------------------------------------------------------------------
def find(gateway: str, out_trade_no: str) -> SandboxTrade | None:
    return SandboxTrade.objects.filter(gateway=gateway, out_trade_no=out_trade_no).first()


def refund(
    trade: SandboxTrade | None,
    *,
    refund_no: str,
    amount_fen: int,
    reason: str = "",
    total_fen: int | None = None,
) -> tuple[SandboxRefund, bool]:
    """(refund, created). Idempotent by refund_no: the same refund_no answers the refund made
    before (a different amount under the same refund_no is refused)."""
    if trade is None:
        raise Refused("not_found", "交易不存在")
    if not refund_no:
        raise Refused("invalid", "退款单号不能为空")
    with transaction.atomic():
        trade = SandboxTrade.objects.select_for_update().get(pk=trade.pk)
        existing = trade.refunds.filter(refund_no=refund_no).first()
        if existing is not None:
            if existing.amount_fen != amount_fen:
                raise Refused("invalid", "同一退款单号的退款金额不一致")
            return existing, False
        if trade.status == SandboxTrade.Status.WAIT:
            raise Refused("not_paid", "交易未支付，不能退款")
        if total_fen is not None and total_fen != trade.amount_fen:
            raise Refused("invalid", "订单金额与原交易不一致")
        if amount_fen <= 0 or trade.refunded_fen + amount_fen > trade.amount_fen:
            raise Refused("exceeds", "退款金额超过可退金额")
        made = SandboxRefund.objects.create(
            trade=trade,
            refund_no=refund_no,
            amount_fen=amount_fen,
            reason=reason[:256],
            refund_id=_refund_id(),
        )
        trade.refunded_fen += amount_fen
        if trade.refunded_fen == trade.amount_fen and trade.gateway == "alipay":
            trade.status = SandboxTrade.Status.CLOSED  # Alipay: fully refunded = TRADE_CLOSED
        trade.save(update_fields=["refunded_fen", "status"])
        return made, True


def _refund_id() -> str:
    return "50" + "".join(secrets.choice("0123456789") for _ in range(27))


def parse_yuan(text: str) -> int:
    try:
        return yuan_to_fen(text)
    except (ValueError, InvalidOperation) as exc:
        raise Refused("invalid", f"金额格式错误：{text}") from exc
