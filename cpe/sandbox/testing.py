"""Helpers for tests that pay through the sandbox gateway.

    start = get_gateway("alipay").create_payment(req)          # as the shop does
    done = sandbox_pay(pay_url=start.url)                        # the buyer presses 支付成功
    done.delivery.ok, done.delivery.status_code                  # the first notification attempt
    done.redirect_url                                            # where the browser goes next

`sandbox_pay` sends the notification over real HTTP to the trade's notify_url (so the test
needs `live_server` and settings.SITE_URL = live_server.url), or with via="client" through
Django's test client in-process (no server needed; no retries are scheduled then).

`signed_alipay_notification` / `signed_wechat_notification` build (headers, body) exactly as
the sandbox sends them, with switches for the catalogue of bad notifications. Call
`stop_retries()` at the end of a test that left a notification unacknowledged.
"""

import json
import time
from datetime import datetime
from functools import lru_cache
from urllib.parse import parse_qsl, urlparse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.urls import Resolver404, resolve
from django.utils import timezone

from cpe.core.money import fen_to_yuan
from cpe.orders.gateways import get_gateway
from cpe.orders.gateways.base import NotificationRejected

from . import keys, protocol, services
from .models import SandboxTrade
from .services import Settled, stop_retries, wait_retries  # noqa: F401  (re-exported)

__all__ = [
    "sandbox_open",
    "sandbox_pay",
    "sandbox_trade",
    "client_send",
    "signed_alipay_notification",
    "signed_wechat_notification",
    "foreign_private_pem",
    "NotifyCatcher",
    "stop_retries",
    "wait_retries",
    "Settled",
]


def sandbox_trade(order_number: str, gateway: str | None = None) -> SandboxTrade:
    qs = SandboxTrade.objects.filter(out_trade_no=order_number)
    if gateway:
        qs = qs.filter(gateway=gateway)
    return qs.get()


def sandbox_open(pay_url: str) -> SandboxTrade:
    """What the buyer's browser does with PaymentStart.url, in-process: Alipay's signed gateway
    URL is verified and the trade opened; a WeChat code_url / h5_url names the trade the API
    call opened."""
    parsed = urlparse(pay_url)
    params = dict(parse_qsl(parsed.query, keep_blank_values=True))
    try:
        match = resolve(parsed.path)
    except Resolver404 as exc:
        raise AssertionError(f"not a sandbox URL: {pay_url}") from exc
    if match.view_name == "sandbox:alipay_gateway":
        if not protocol.alipay_request_valid(params, keys.sandbox_keys().alipay_app_public_pem):
            raise AssertionError("the Alipay pay URL does not carry a valid signature")
        return services.alipay_open(params)
    if match.view_name == "sandbox:pay":
        return SandboxTrade.objects.get(token=match.kwargs["token"])
    raise AssertionError(f"not a sandbox pay URL: {pay_url}")


def client_send(url: str, headers: dict, body: bytes) -> tuple[int, str]:
    """Deliver a notification through Django's test client (no HTTP server involved)."""
    from django.test import Client

    parsed = urlparse(url)
    path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    resp = Client().generic(
        "POST",
        path,
        data=body,
        content_type=headers.get("Content-Type", ""),
        headers=extra,
        secure=parsed.scheme == "https",
    )
    return resp.status_code, resp.content.decode("utf-8", "replace")


def sandbox_pay(
    order_number: str | None = None,
    outcome: str = "success",
    *,
    pay_url: str | None = None,
    gateway: str | None = None,
    via: str = "http",
) -> Settled:
    """Press a button of the sandbox cashier: "success", "fail" or "no_notify".

    Name the trade by `pay_url` (PaymentStart.url; for Alipay this also opens the trade, as the
    browser would) or by `order_number` (+ `gateway` if both gateways know it). Returns after the
    first notification attempt. via="http" (default) posts to notify_url for real and schedules
    retries if it failed; via="client" uses Django's test client and never retries."""
    if pay_url:
        trade = sandbox_open(pay_url)
        redirect_url = dict(parse_qsl(urlparse(pay_url).query)).get("redirect_url", "")
    elif order_number:
        trade, redirect_url = sandbox_trade(order_number, gateway), ""
    else:
        raise TypeError("give order_number or pay_url")
    if via not in ("http", "client"):
        raise ValueError(via)
    return services.settle(
        trade, outcome, redirect_url=redirect_url, send=client_send if via == "client" else None
    )


@lru_cache(maxsize=1)
def foreign_private_pem() -> str:
    """A key nobody trusts (for bad-signature cases)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def signed_alipay_notification(
    order_number: str,
    amount_fen: int,
    *,
    trade_no: str = "",
    trade_status: str = "TRADE_SUCCESS",
    app_id: str | None = None,
    seller_id: str | None = None,
    notify_id: str | None = None,
    subject: str = "沙箱测试商品",
    paid_at: datetime | None = None,
    bad_signature: bool = False,
    tamper: dict | None = None,
    extra: dict | None = None,
) -> tuple[dict, bytes]:
    """(headers, body) of an Alipay payment notification, signed by the sandbox Alipay key.

    app_id / seller_id: other values than ours (signed correctly) -> wrong_app / wrong_seller;
    bad_signature: signed with a foreign key; tamper: fields changed AFTER signing (e.g.
    {"total_amount": "0.01"}); extra: fields added before signing."""
    paid_at = paid_at or timezone.now()
    params = protocol.alipay_notification_params(
        app_id=app_id or keys.ALIPAY_APP_ID,
        seller_id=seller_id or keys.ALIPAY_SELLER_ID,
        out_trade_no=order_number,
        trade_no=trade_no or f"{paid_at:%Y%m%d}22001000000000000001",
        total_amount=fen_to_yuan(amount_fen),
        subject=subject,
        notify_id=notify_id or f"{paid_at:%Y%m%d}{int(time.time() * 1e6)}",
        gmt_create=paid_at,
        gmt_payment=paid_at,
        trade_status=trade_status,
    )
    params.update(extra or {})
    key = foreign_private_pem() if bad_signature else keys.sandbox_keys().alipay_gateway_private_pem
    signed = protocol.alipay_sign_notification(params, key)
    signed.update(tamper or {})
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    return headers, protocol.alipay_form(signed)


def signed_wechat_notification(
    order_number: str,
    amount_fen: int,
    *,
    transaction_id: str = "4200002601010000000000000001",
    trade_state: str = "SUCCESS",
    event_type: str = "TRANSACTION.SUCCESS",
    mchid: str | None = None,
    appid: str | None = None,
    notify_id: str | None = None,
    paid_at: datetime | None = None,
    timestamp: int | None = None,
    serial: str | None = None,
    omit_headers: tuple = (),
    bad_signature: bool = False,
    altered_amount_fen: int | None = None,
    apiv3_key: str | None = None,
    trade_type: str = "NATIVE",
) -> tuple[dict, bytes]:
    """(headers, body) of a WeChat Pay v3 payment notification, as the sandbox sends it.

    mchid / appid: other values (correctly signed and encrypted) -> wrong_app; timestamp: a
    signed but old Wechatpay-Timestamp -> stale; serial: another Wechatpay-Serial ->
    unknown_serial; omit_headers: header names to drop -> malformed; bad_signature: signed with
    a foreign key; altered_amount_fen: the resource re-encrypted with another amount AFTER
    signing (the signature no longer matches); apiv3_key: encrypt with another key."""
    k = keys.sandbox_keys()
    paid_at = paid_at or timezone.now()

    def body_for(total: int) -> str:
        plain = protocol.wechat_transaction(
            mchid=mchid or keys.WECHAT_MCHID,
            appid=appid or keys.WECHAT_APPID,
            out_trade_no=order_number,
            transaction_id=transaction_id,
            trade_type=trade_type,
            amount_fen=total,
            success_time=paid_at,
            trade_state=trade_state,
        )
        resource = protocol.wechat_encrypt_resource(plain, apiv3_key or k.wechat_apiv3_key)
        return protocol.wechat_notification_body(
            notify_id or f"EV-{int(time.time() * 1e6)}", resource, event_type=event_type
        )

    body = body_for(amount_fen)
    key = foreign_private_pem() if bad_signature else k.wechat_platform_private_pem
    headers = protocol.wechat_signed_headers(
        body, key, serial or keys.WECHAT_PLATFORM_PUBLIC_KEY_ID, timestamp=timestamp
    )
    if altered_amount_fen is not None:
        envelope = json.loads(body)
        altered = json.loads(body_for(altered_amount_fen))
        envelope["resource"] = altered["resource"]
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    headers = {name: value for name, value in headers.items() if name not in omit_headers}
    headers["Content-Type"] = "application/json"
    return headers, body.encode("utf-8")


class NotifyCatcher:
    """A local HTTP server standing in for the platform's notify endpoints (for tests of the
    sandbox's sending side; the orders app tests its real endpoints with the builders above).

        with NotifyCatcher() as merchant:
            req = PaymentRequest(..., notify_url=merchant.url("alipay"), ...)

    Each request is recorded in `received` as a dict (gateway, headers, body, notice or
    rejected code). By default the answer comes from the real adapter: parse_notification,
    then notification_answer(ok). `answers` is a list of forced (status, body) answers used
    first, one per request (e.g. [(200, "fail")] to make the first attempt fail)."""

    def __init__(self, answers: list | None = None):
        self.answers = list(answers or [])
        self.received: list[dict] = []
        self._server = None
        self._thread = None

    def url(self, gateway: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/notify/{gateway}/"

    def _handle(self, gateway: str, headers: dict, body: bytes) -> tuple[int, str, bytes]:
        adapter = get_gateway(gateway)
        record = {"gateway": gateway, "headers": headers, "body": body, "notice": None, "rejected": ""}
        try:
            record["notice"] = adapter.parse_notification(headers, body)
        except NotificationRejected as exc:
            record["rejected"] = exc.code
        self.received.append(record)
        if self.answers:
            status, text = self.answers.pop(0)
            return status, "text/plain", text.encode()
        answer = adapter.notification_answer(record["notice"] is not None)
        return answer.status, answer.content_type, answer.body

    def __enter__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                gateway = self.path.strip("/").split("/")[-1]
                status, content_type, payload = catcher._handle(gateway, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
