"""The payment-gateway port: plain dataclasses between the shop and any gateway."""

from dataclasses import dataclass, field
from datetime import datetime


class GatewayError(Exception):
    """The gateway could not be reached or answered an error; the call may be retried."""


class NotificationRejected(Exception):
    """A notification that must not change anything. `code` names why (stored with the raw
    notification): bad_signature, wrong_app, wrong_seller, stale, unknown_serial, malformed,
    not_success."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class PaymentRequest:
    order_number: str
    amount_fen: int
    subject: str
    channel: str  # orders.states.Channel value
    notify_url: str  # absolute
    return_url: str  # absolute
    client_ip: str = "127.0.0.1"
    expires_at: datetime | None = None


@dataclass(frozen=True)
class PaymentStart:
    kind: str  # "redirect": send the browser to url; "qr": show url as a QR code
    url: str


@dataclass(frozen=True)
class PaymentNotice:
    """A verified notification of a successful payment. Amount checks against the order are
    the caller's (orders.services.payment_confirm)."""

    order_number: str
    gateway_txn_id: str
    amount_fen: int
    paid_at: datetime | None
    notify_id: str = ""
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class QueryResult:
    status: str  # "paid" | "pending" | "closed" | "not_found"
    gateway_txn_id: str = ""
    amount_fen: int = 0
    paid_at: datetime | None = None


@dataclass(frozen=True)
class RefundResult:
    succeeded: bool
    gateway_refund_id: str = ""
    detail: str = ""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    content_type: str
    body: bytes


class PaymentGateway:
    name = ""
    is_fake = False

    def create_payment(self, req: PaymentRequest) -> PaymentStart:
        raise NotImplementedError

    def parse_notification(self, headers: dict, body: bytes) -> PaymentNotice:
        """Verify and parse; raise NotificationRejected for anything that must change nothing."""
        raise NotImplementedError

    def notification_answer(self, ok: bool) -> HttpAnswer:
        """What the gateway's protocol wants back (Alipay: "success"/"fail"; WeChat: 200/204 or 4xx JSON)."""
        raise NotImplementedError

    def query(self, order_number: str) -> QueryResult:
        raise NotImplementedError

    def refund(
        self, *, order_number: str, refund_no: str, amount_fen: int, total_fen: int, reason: str
    ) -> RefundResult:
        """Idempotent by refund_no."""
        raise NotImplementedError
