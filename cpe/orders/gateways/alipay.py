"""Alipay adapter (python-alipay-sdk, RSA2 public-key mode).

Channels: alipay_page (alipay.trade.page.pay, computer website) and alipay_wap
(alipay.trade.wap.pay, mobile website). Both only build a signed URL: no HTTP call happens
until the browser follows it. query and refund are server-to-server API calls.

SDK facts this module relies on (python-alipay-sdk 3.4):
- the gateway address is the private attribute ``AliPay._gateway``; it is set in
  `make_client` and nowhere else;
- API calls are HTTP GETs of gateway + "?" + signed query string (urllib), and the SDK checks
  the RSA2 signature of the synchronous answer with the Alipay public key;
- ``AliPay.verify(data, sign)`` signs over every key of `data` except those the caller removed:
  notification verification must exclude ``sign`` and ``sign_type`` (request signing excludes
  only ``sign``).
"""

import re
from datetime import datetime
from http.client import HTTPException
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig

from cpe.core.money import fen_to_yuan, yuan_to_fen
from cpe.orders.states import Channel

from .base import (
    GatewayError,
    HttpAnswer,
    NotificationRejected,
    PaymentGateway,
    PaymentNotice,
    PaymentRequest,
    PaymentStart,
    QueryResult,
    RefundResult,
)
from .config import AlipaySettings, alipay_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")  # Alipay times are Beijing wall-clock "YYYY-MM-DD HH:MM:SS"
PAID_STATUSES = {"TRADE_SUCCESS", "TRADE_FINISHED"}
QUERY_STATUS = {
    "WAIT_BUYER_PAY": "pending",
    "TRADE_SUCCESS": "paid",
    "TRADE_FINISHED": "paid",
    "TRADE_CLOSED": "closed",
}
OK_CODE = "10000"
# Transport failures, non-JSON answers and SDK errors all mean "the call may be retried".
_CALL_ERRORS = (OSError, HTTPException, ValueError, AliPayException, AliPayValidationError)


def make_client(cfg: AlipaySettings) -> AliPay:
    """The one place that builds an SDK client (and sets its private gateway attribute)."""
    client = AliPay(
        appid=cfg.app_id,
        app_notify_url=None,
        app_private_key_string=cfg.app_private_key_pem,
        alipay_public_key_string=cfg.alipay_public_key_pem,
        sign_type="RSA2",
        config=AliPayConfig(timeout=cfg.timeout),
    )
    client._gateway = cfg.gateway_url
    return client


def _beijing(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except (TypeError, ValueError):
        return None


def _subject(text: str) -> str:
    # Alipay refuses "/", "=" and "&" in subject; 256 characters at most.
    return re.sub(r"[/=&]", " ", text).strip()[:256] or "订单"


class AlipayGateway(PaymentGateway):
    name = "alipay"

    def __init__(self, cfg: AlipaySettings | None = None):
        self.cfg = cfg or alipay_settings()
        self.client = make_client(self.cfg)

    # -- paying -----------------------------------------------------------------------------
    def create_payment(self, req: PaymentRequest) -> PaymentStart:
        extra = {}
        if req.expires_at is not None:
            extra["time_expire"] = req.expires_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        common = dict(
            subject=_subject(req.subject),
            out_trade_no=req.order_number,
            total_amount=fen_to_yuan(req.amount_fen),
            return_url=req.return_url,
            notify_url=req.notify_url,
            **extra,
        )
        if req.channel == Channel.ALIPAY_PAGE:
            query = self.client.api_alipay_trade_page_pay(**common)
        elif req.channel == Channel.ALIPAY_WAP:
            query = self.client.api_alipay_trade_wap_pay(quit_url=req.return_url, **common)
        else:
            raise ValueError(f"Alipay does not serve channel {req.channel!r}")
        return PaymentStart(kind="redirect", url=f"{self.cfg.gateway_url}?{query}")

    # -- asynchronous notifications ---------------------------------------------------------
    def parse_notification(self, headers: dict, body: bytes) -> PaymentNotice:
        try:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
            params = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
        except (UnicodeDecodeError, ValueError) as exc:
            raise NotificationRejected("malformed", f"not a form body: {exc}") from exc
        sign = params.get("sign", "")
        if not sign:
            raise NotificationRejected("malformed", "no sign")
        if params.get("sign_type", "RSA2") != "RSA2":
            raise NotificationRejected("bad_signature", f"sign_type {params.get('sign_type')}")
        unsigned = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
        try:
            valid = self.client.verify(unsigned, sign)
        except (ValueError, TypeError, AliPayException):  # undecodable base64, wrong length...
            valid = False
        if not valid:
            raise NotificationRejected("bad_signature", "RSA2 signature does not verify")

        if params.get("app_id") != self.cfg.app_id:
            raise NotificationRejected("wrong_app", f"app_id {params.get('app_id')!r}")
        if params.get("seller_id") != self.cfg.seller_id:
            raise NotificationRejected("wrong_seller", f"seller_id {params.get('seller_id')!r}")
        status = params.get("trade_status", "")
        if status not in PAID_STATUSES:
            raise NotificationRejected("not_success", f"trade_status {status!r}")
        if params.get("refund_fee") or params.get("gmt_refund"):
            # A partial refund is notified with trade_status TRADE_SUCCESS: it is not a payment.
            raise NotificationRejected("not_success", "refund notification")
        order_number, trade_no = params.get("out_trade_no", ""), params.get("trade_no", "")
        if not order_number or not trade_no:
            raise NotificationRejected("malformed", "out_trade_no or trade_no missing")
        try:
            amount_fen = yuan_to_fen(params.get("total_amount", ""))
        except (ArithmeticError, ValueError) as exc:  # decimal.InvalidOperation is an ArithmeticError
            raise NotificationRejected("malformed", f"total_amount {params.get('total_amount')!r}") from exc
        return PaymentNotice(
            order_number=order_number,
            gateway_txn_id=trade_no,
            amount_fen=amount_fen,
            paid_at=_beijing(params.get("gmt_payment", "")),
            notify_id=params.get("notify_id", ""),
            raw=params,
        )

    def notification_answer(self, ok: bool) -> HttpAnswer:
        # Alipay retries (over ~25 hours) until the body is exactly "success".
        return HttpAnswer(status=200, content_type="text/plain", body=b"success" if ok else b"fail")

    # -- server-to-server calls -------------------------------------------------------------
    def query(self, order_number: str) -> QueryResult:
        try:
            resp = self.client.api_alipay_trade_query(out_trade_no=order_number)
        except _CALL_ERRORS as exc:
            raise GatewayError(f"alipay.trade.query failed: {exc}") from exc
        if resp.get("code") != OK_CODE:
            if resp.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return QueryResult(status="not_found")  # e.g. the buyer never opened the cashier
            raise GatewayError(f"alipay.trade.query: {resp.get('sub_code')} {resp.get('sub_msg')}")
        status = QUERY_STATUS.get(resp.get("trade_status", ""))
        if status is None:
            raise GatewayError(f"alipay.trade.query: unknown trade_status {resp.get('trade_status')!r}")
        try:
            amount_fen = yuan_to_fen(resp.get("total_amount", "0"))
        except (ArithmeticError, ValueError) as exc:
            raise GatewayError(f"alipay.trade.query: total_amount {resp.get('total_amount')!r}") from exc
        return QueryResult(
            status=status,
            gateway_txn_id=resp.get("trade_no", ""),
            amount_fen=amount_fen,
            paid_at=_beijing(resp.get("send_pay_date", "")) if status == "paid" else None,
        )

    def refund(
        self, *, order_number: str, refund_no: str, amount_fen: int, total_fen: int, reason: str
    ) -> RefundResult:
        """alipay.trade.refund; out_request_no = refund_no makes a repeated call answer the same
        refund again (fund_change "N") instead of refunding twice. Alipay has no refund id of its
        own: gateway_refund_id is the Alipay trade number the refund was made against (the pair
        trade_no + refund_no is what Alipay's statements show)."""
        try:
            resp = self.client.api_alipay_trade_refund(
                refund_amount=fen_to_yuan(amount_fen),
                out_trade_no=order_number,
                out_request_no=refund_no,
                refund_reason=(reason or "退款")[:256],
            )
        except _CALL_ERRORS as exc:
            raise GatewayError(f"alipay.trade.refund failed: {exc}") from exc
        if resp.get("code") == OK_CODE:
            return RefundResult(
                succeeded=True,
                gateway_refund_id=resp.get("trade_no", ""),
                detail=f"fund_change={resp.get('fund_change', '')}",
            )
        if resp.get("code") == "40004" and resp.get("sub_code") != "ACQ.SYSTEM_ERROR":
            # A business refusal: repeating the same request will not change the answer.
            return RefundResult(succeeded=False, detail=f"{resp.get('sub_code')}: {resp.get('sub_msg')}")
        raise GatewayError(
            "alipay.trade.refund: %s %s %s" % (resp.get("code"), resp.get("sub_code"), resp.get("sub_msg"))
        )
