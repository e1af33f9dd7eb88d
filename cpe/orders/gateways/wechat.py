"""WeChat Pay API v3 adapter (wechatpayv3, platform-public-key mode).

Channels: wechat_native (QR code: PaymentStart(kind="qr", url=code_url)) and wechat_h5 (mobile
browser outside WeChat: PaymentStart(kind="redirect", url=h5_url + redirect_url)).

SDK facts this module relies on (wechatpayv3 2.0.4):
- with ``public_key`` + ``public_key_id`` the client makes no network call when built;
- the API base is the private attribute ``Core._gate_way``; it is set in `make_client` only;
- ``callback()`` verifies the signature and decrypts the resource, but does NOT reject old
  timestamps, RAISES (instead of answering False) when Wechatpay-Signature-Type is missing,
  and for a Wechatpay-Serial other than our public key id DOWNLOADS CERTIFICATES from the
  gateway. `parse_notification` therefore checks headers, age and serial before calling it;
- the SDK verifies the signature of 2xx answers only and raises a bare Exception when it fails.
"""

import json
import time
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import load_public_key, rsa_verify

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
from .config import WechatPaySettings, wechatpay_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_CLOCK_SKEW = 300  # seconds, either way (WeChat's own recommendation)
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
NOTIFY_HEADERS = (
    "Wechatpay-Signature",
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
)
QUERY_STATUS = {
    "SUCCESS": "paid",
    "REFUND": "paid",  # REFUND: paid, then (partly) refunded
    "NOTPAY": "pending",
    "USERPAYING": "pending",
    "CLOSED": "closed",
    "REVOKED": "closed",
    "PAYERROR": "closed",
}
# Error codes after which a refund request may succeed if repeated later.
RETRYABLE_REFUND_CODES = {"SYSTEM_ERROR", "FREQUENCY_LIMITED", "NOT_ENOUGH"}


def make_client(cfg: WechatPaySettings) -> WeChatPay:
    """The one place that builds an SDK client (and sets its private gateway attribute)."""
    client = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=cfg.mchid,
        private_key=cfg.private_key_pem,
        cert_serial_no=cfg.cert_serial,
        appid=cfg.appid,
        apiv3_key=cfg.apiv3_key,
        public_key=cfg.platform_public_key_pem,
        public_key_id=cfg.platform_public_key_id,
        timeout=cfg.timeout,
    )
    client._core._gate_way = cfg.api_base
    return client


def header(headers: dict, name: str) -> str:
    """A header from a dict of HTTP headers, whatever the case of its name; also accepts
    Django's request.META spelling (HTTP_WECHATPAY_SIGNATURE)."""
    wanted = name.lower()
    meta = "http_" + wanted.replace("-", "_")
    for key, value in headers.items():
        if key.lower() in (wanted, meta):
            return str(value)
    return ""


def _rfc3339(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def _error(text) -> tuple[str, str]:
    """(code, message) of a WeChat Pay v3 error answer."""
    try:
        data = json.loads(text)
        return str(data.get("code", "")), str(data.get("message", ""))
    except (TypeError, ValueError, AttributeError):
        return "", str(text)[:200]


class WechatPayGateway(PaymentGateway):
    name = "wechat"

    def __init__(self, cfg: WechatPaySettings | None = None):
        self.cfg = cfg or wechatpay_settings()
        self.client = make_client(self.cfg)

    def _call(self, what: str, fn, **kwargs) -> tuple[int, object]:
        try:
            return fn(**kwargs)
        except Exception as exc:  # requests.RequestException, or the SDK's bare Exception (bad signature)
            raise GatewayError(f"{what}: {exc}") from exc

    @staticmethod
    def _json(what: str, text) -> dict:
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise GatewayError(f"{what}: answer is not JSON") from exc
        if not isinstance(data, dict):
            raise GatewayError(f"{what}: answer is not a JSON object")
        return data

    # -- paying -----------------------------------------------------------------------------
    def create_payment(self, req: PaymentRequest) -> PaymentStart:
        kwargs = dict(
            description=req.subject[:127] or "订单",
            out_trade_no=req.order_number,
            amount={"total": req.amount_fen, "currency": "CNY"},
            notify_url=req.notify_url,
        )
        if req.expires_at is not None:
            kwargs["time_expire"] = req.expires_at.astimezone(SHANGHAI).isoformat(timespec="seconds")
        if req.channel == Channel.WECHAT_NATIVE:
            kwargs["pay_type"] = WeChatPayType.NATIVE
        elif req.channel == Channel.WECHAT_H5:
            kwargs["pay_type"] = WeChatPayType.H5
            kwargs["scene_info"] = {"payer_client_ip": req.client_ip, "h5_info": {"type": "Wap"}}
        else:
            raise ValueError(f"WeChat Pay does not serve channel {req.channel!r}")
        code, text = self._call("wechat pay", self.client.pay, **kwargs)
        if code != 200:
            raise GatewayError("wechat pay: %s %s" % _error(text))
        data = self._json("wechat pay", text)
        url = data.get("code_url" if req.channel == Channel.WECHAT_NATIVE else "h5_url")
        if not url:
            raise GatewayError("wechat pay: no code_url / h5_url in the answer")
        if req.channel == Channel.WECHAT_NATIVE:
            return PaymentStart(kind="qr", url=url)
        # H5: WeChat sends the browser back to redirect_url once the payment page is left.
        sep = "&" if "?" in url else "?"
        return PaymentStart(kind="redirect", url=f"{url}{sep}redirect_url={quote(req.return_url, safe='')}")

    # -- asynchronous notifications ---------------------------------------------------------
    def parse_notification(self, headers: dict, body: bytes) -> PaymentNotice:
        # 1. Everything the SDK does not check (or checks by raising / by going online).
        values = {name: header(headers, name) for name in NOTIFY_HEADERS}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise NotificationRejected("malformed", f"missing headers: {', '.join(missing)}")
        if values["Wechatpay-Signature-Type"] != SIGNATURE_TYPE:
            raise NotificationRejected("malformed", f"signature type {values['Wechatpay-Signature-Type']!r}")
        try:
            timestamp = int(values["Wechatpay-Timestamp"])
        except ValueError as exc:
            raise NotificationRejected("malformed", "timestamp is not an integer") from exc
        if abs(time.time() - timestamp) > MAX_CLOCK_SKEW:
            raise NotificationRejected("stale", f"timestamp {timestamp}")
        if values["Wechatpay-Serial"] != self.cfg.platform_public_key_id:
            raise NotificationRejected("unknown_serial", values["Wechatpay-Serial"])
        try:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
        except UnicodeDecodeError as exc:
            raise NotificationRejected("malformed", "body is not UTF-8") from exc

        # 2. Signature and AES-256-GCM decryption by the SDK.
        try:
            data = self.client.callback(values, text)
        except Exception as exc:  # invalid JSON, unsupported algorithm (the SDK raises bare Exception)
            raise NotificationRejected("malformed", str(exc)) from exc
        if not data:
            # None: the signature failed, or the resource did not decrypt. Tell them apart.
            key = load_public_key(self.cfg.platform_public_key_pem)
            if not rsa_verify(
                values["Wechatpay-Timestamp"],
                values["Wechatpay-Nonce"],
                text,
                values["Wechatpay-Signature"],
                key,
            ):
                raise NotificationRejected("bad_signature", "RSA signature does not verify")
            raise NotificationRejected("malformed", "resource missing or does not decrypt")

        # 3. What it says.
        resource = data.get("resource")
        if not isinstance(resource, dict):
            raise NotificationRejected("malformed", "resource is not an object")
        if not str(data.get("event_type", "")).startswith("TRANSACTION."):
            raise NotificationRejected("not_success", f"event_type {data.get('event_type')!r}")
        if resource.get("mchid") != self.cfg.mchid or resource.get("appid") != self.cfg.appid:
            raise NotificationRejected(
                "wrong_app", f"mchid {resource.get('mchid')!r} appid {resource.get('appid')!r}"
            )
        if resource.get("trade_state") != "SUCCESS":
            raise NotificationRejected("not_success", f"trade_state {resource.get('trade_state')!r}")
        amount = resource.get("amount")
        if not isinstance(amount, dict):  # a string or list here was an AttributeError (a 500)
            raise NotificationRejected("malformed", f"amount {amount!r}")
        total = amount.get("total")
        if type(total) is not int or amount.get("currency", "CNY") != "CNY":
            raise NotificationRejected("malformed", f"amount {amount!r}")
        order_number, txn = resource.get("out_trade_no"), resource.get("transaction_id")
        if not order_number or not txn or not isinstance(order_number, str) or not isinstance(txn, str):
            raise NotificationRejected("malformed", "out_trade_no or transaction_id missing")
        return PaymentNotice(
            order_number=order_number,
            gateway_txn_id=txn,
            amount_fen=total,
            paid_at=_rfc3339(resource.get("success_time", "")),
            notify_id=str(data.get("id", "")),
            raw=data,
        )

    def notification_answer(self, ok: bool) -> HttpAnswer:
        # v3: 200/204 without body on success; 4xx/5xx with a JSON body makes WeChat retry.
        if ok:
            return HttpAnswer(status=204, content_type="application/json", body=b"")
        body = json.dumps({"code": "FAIL", "message": "失败"}, ensure_ascii=False).encode()
        return HttpAnswer(status=500, content_type="application/json; charset=utf-8", body=body)

    # -- server-to-server calls -------------------------------------------------------------
    def query(self, order_number: str) -> QueryResult:
        code, text = self._call("wechat query", self.client.query, out_trade_no=order_number)
        if code == 404:
            return QueryResult(status="not_found")
        if code != 200:
            raise GatewayError("wechat query: %s %s" % _error(text))
        data = self._json("wechat query", text)
        status = QUERY_STATUS.get(data.get("trade_state", ""))
        if status is None:
            raise GatewayError(f"wechat query: unknown trade_state {data.get('trade_state')!r}")
        if status != "paid":
            return QueryResult(status=status)
        total = (data.get("amount") or {}).get("total")
        if type(total) is not int:
            raise GatewayError(f"wechat query: amount {data.get('amount')!r}")
        return QueryResult(
            status="paid",
            gateway_txn_id=data.get("transaction_id", ""),
            amount_fen=total,
            paid_at=_rfc3339(data.get("success_time", "")),
        )

    def refund(
        self, *, order_number: str, refund_no: str, amount_fen: int, total_fen: int, reason: str
    ) -> RefundResult:
        """POST /v3/refund/domestic/refunds; out_refund_no = refund_no: repeating the request
        answers the same refund (same refund_id). status PROCESSING counts as succeeded (the
        refund is accepted and cannot be cancelled); `detail` carries the status."""
        code, text = self._call(
            "wechat refund",
            self.client.refund,
            out_refund_no=refund_no,
            out_trade_no=order_number,
            amount={"refund": amount_fen, "total": total_fen, "currency": "CNY"},
            reason=(reason or "退款")[:80],
        )
        if code == 200:
            data = self._json("wechat refund", text)
            status = data.get("status", "")
            return RefundResult(
                succeeded=status in ("SUCCESS", "PROCESSING"),
                gateway_refund_id=data.get("refund_id", ""),
                detail=status,
            )
        err_code, message = _error(text)
        if code >= 500 or err_code in RETRYABLE_REFUND_CODES:
            raise GatewayError(f"wechat refund: {code} {err_code} {message}")
        return RefundResult(succeeded=False, detail=f"{err_code}: {message}")
