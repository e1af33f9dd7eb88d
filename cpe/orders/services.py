"""Every write to orders, payments and refunds (rules R4-5)."""

import logging
import secrets
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from cpe.accounts.models import User
from cpe.accounts.policy import hold_allows
from cpe.accounts.states import AisStatus
from cpe.catalog.models import Product
from cpe.core.audit import audit_record
from cpe.core.datefmt import local_datetime
from cpe.credits.services import credits_revoke_for_order
from cpe.learning.models import Enrolment, EnrolmentStatus
from cpe.learning.policy import validity_window
from cpe.notices.models import Channel as MsgChannel
from cpe.notices.services import message_queue

from . import hooks, policy, selectors
from .errors import OrderError
from .gateways import get_gateway
from .gateways.base import (
    GatewayError,
    HttpAnswer,
    NotificationRejected,
    PaymentNotice,
    PaymentRequest,
    PaymentStart,
)
from .models import Order, PaymentNotification, Refund
from .states import CHANNEL_GATEWAY, TRANSITIONS, OrderStatus, RefundStatus

log = logging.getLogger(__name__)


def _transition(order: Order, to: str) -> None:
    if to not in TRANSITIONS[OrderStatus(order.status)]:
        raise OrderError("bad_transition", f"订单状态为“{order.get_status_display()}”，不能执行该操作。")
    order.status = to


# --- ordering ---------------------------------------------------------------------------------
def purchase_check(*, user: User, product: Product, at: datetime) -> policy.Decision:
    """Whether the learner may buy the product now (policy.purchase_decision, rules R4.1): the one
    rule behind the buy page, the order list's 再次购买 and order_create."""
    return policy.purchase_decision(
        holds_valid=selectors.holds_valid(user, product, at),
        product_active=product.is_active,
        year_open=product.year.is_open,
        covered_by_annual=selectors.covered_by_annual(user, product, at),
    )


def order_create(
    *, user: User, product_code: str, ais_confirmed: bool = False, at: datetime | None = None
) -> Order:
    """Create an order for a product, or return the learner's open one for it."""

    at = at or timezone.now()
    if not hold_allows("buy", on_hold=user.on_hold):
        raise OrderError("on_hold", f"您的资料需要更正（{user.correction_reason}），更正前暂不能购买课程。")
    product = Product.objects.select_related("year").filter(code=product_code).first()
    if product is None:
        raise OrderError("no_product", "该课程不存在。")
    if user.ais_status != AisStatus.FOUND and not ais_confirmed:
        raise OrderError(
            "ais_confirm_required",
            "您尚未被确认纳入《内蒙古自治区会计人员信息管理系统》，学时暂不能上报。请确认已知晓后再购买。",
            field="ais_confirmed",
        )
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)  # one purchase decision per learner at a time
        decision = purchase_check(user=user, product=product, at=at)
        if not decision.allowed:
            raise OrderError(decision.code, decision.message)
        open_order = (
            Order.objects.filter(
                user=user,
                product=product,
                status=OrderStatus.PENDING,
                created_at__gt=at - policy.ORDER_PAY_TIMEOUT,
            )
            .order_by("-created_at")
            .first()
        )
        if open_order is not None:
            return open_order
        order = Order.objects.create(
            number=policy.order_number(at),
            user=user,
            product=product,
            subject=product.title,
            amount_fen=product.price_fen,
            validity_days=product.validity_days,
            created_at=at,
            ais_warning_confirmed=user.ais_status != AisStatus.FOUND,
        )
        audit_record(
            "order.created",
            actor=user,
            subject=order,
            at=at,
            data={"product": product.code, "amount_fen": order.amount_fen},
        )
    return order


def payment_start(
    *,
    order: Order,
    channel: str,
    notify_url: str,
    return_url: str,
    client_ip: str = "127.0.0.1",
    at: datetime | None = None,
) -> PaymentStart:
    """Ask the gateway for a payment of the order's exact amount. The order's gateway is the
    last one chosen; a learner may switch while the order is unpaid."""
    at = at or timezone.now()
    if channel not in CHANNEL_GATEWAY:
        raise OrderError("bad_channel", "请选择支付方式。")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.PENDING:
            raise OrderError("not_pending", "该订单已不是待支付状态。")
        if policy.order_expired(order.created_at, at):
            _close(order, "超时未支付", at)
            raise OrderError("expired", "订单已超过 30 分钟未支付，已自动关闭，请重新下单。")
        order.gateway, order.channel = CHANNEL_GATEWAY[channel], channel
        order.save(update_fields=["gateway", "channel"])
    try:
        return get_gateway(order.gateway).create_payment(
            PaymentRequest(
                order_number=order.number,
                amount_fen=order.amount_fen,
                subject=order.subject,
                channel=channel,
                notify_url=notify_url,
                return_url=return_url,
                client_ip=client_ip,
                expires_at=policy.order_pay_deadline(order.created_at),
            )
        )
    except GatewayError as exc:
        raise OrderError("gateway_unavailable", "支付服务暂时不可用，请稍后再试或换用其他支付方式。") from exc


# --- notifications ----------------------------------------------------------------------------
def notification_receive(
    *, gateway_name: str, headers: dict, body: bytes, at: datetime | None = None
) -> HttpAnswer:
    """Handle one asynchronous notification: store it (bounded), verify, apply once, answer as
    the gateway's protocol wants. The state change happens once however many arrive. A body
    over policy.NOTIFY_MAX_BODY_BYTES is refused (OrderError) and nothing is stored."""
    at = at or timezone.now()
    gateway = get_gateway(gateway_name)
    if policy.notification_body_too_large(len(body)):  # the view refuses these first (413)
        raise OrderError("notification_too_large", "通知内容过大。")
    # Stored before it is checked, but bounded: the kept headers only, and of the body only an
    # excerpt plus its digest until the signature verifies (anybody can call this URL).
    raw = PaymentNotification.objects.create(
        gateway=gateway_name,
        received_at=at,
        headers=policy.notification_kept_headers(headers),
        body=policy.notification_stored_body(body, verified=False),
        outcome="received",
        detail=policy.notification_body_digest(body),
    )
    try:
        notice = gateway.parse_notification(headers, body)
    except NotificationRejected as exc:
        raw.outcome = f"rejected:{exc.code}"
        raw.detail = f"{raw.detail} {exc.detail[:500]}"
        raw.save(update_fields=["outcome", "detail"])
        return gateway.notification_answer(False)
    raw.notify_id = notice.notify_id[:100]
    raw.body = policy.notification_stored_body(body, verified=True)
    outcome, ok = payment_confirm(gateway_name=gateway_name, notice=notice, at=at)
    raw.outcome = outcome
    raw.order = Order.objects.filter(number=notice.order_number).first()
    raw.save(update_fields=["outcome", "notify_id", "order", "body"])
    return gateway.notification_answer(ok)


def payment_confirm(
    *, gateway_name: str, notice: PaymentNotice, at: datetime | None = None
) -> tuple[str, bool]:
    """Apply a verified payment to its order. Returns (outcome, answer_ok). Locks the order
    row; the unique gateway transaction id stops a second activation even across gateways."""
    at = at or timezone.now()
    try:
        with transaction.atomic():
            order = Order.objects.select_for_update().filter(number=notice.order_number).first()
            if order is None:
                return "rejected:unknown_order", False
            if notice.amount_fen != order.amount_fen:
                return "rejected:amount_mismatch", False
            if order.status != OrderStatus.PENDING:
                if order.gateway_txn_id == notice.gateway_txn_id:
                    return "duplicate", True
                # Money arrived for an order that is already paid or closed: keep it visible to
                # finance (a refund by hand), acknowledge so the gateway stops retrying.
                audit_record(
                    "payment.unmatched",
                    subject=order,
                    at=at,
                    data={
                        "gateway": gateway_name,
                        "txn": notice.gateway_txn_id,
                        "amount_fen": notice.amount_fen,
                        "order_status": order.status,
                    },
                )
                return "unmatched_payment", True
            paid_at = min(notice.paid_at or at, at)
            _transition(order, OrderStatus.PAID)
            order.paid_at, order.gateway, order.gateway_txn_id = paid_at, gateway_name, notice.gateway_txn_id
            order.save(update_fields=["status", "paid_at", "gateway", "gateway_txn_id"])
            window = validity_window(paid_at, order.validity_days)
            Enrolment.objects.create(
                user=order.user,
                product=order.product,
                order=order,
                year=order.product.year,
                valid_from=window.start,
                valid_until=window.end,
            )
            audit_record(
                "order.paid",
                subject=order,
                at=at,
                data={
                    "gateway": gateway_name,
                    "txn": notice.gateway_txn_id,
                    "amount_fen": order.amount_fen,
                    "valid_until": window.end.isoformat(),
                },
            )
            _notify(
                order.user,
                "order.paid",
                at,
                f"您已成功支付订单 {order.number}（{order.subject}，{order.amount_yuan} 元），"
                f"课程有效期至 {local_datetime(window.end)}，请在有效期内完成学习和考试。",
            )
    except IntegrityError:
        return "duplicate", True
    return "activated", True


def order_sync(*, order: Order, at: datetime | None = None) -> Order:
    """The return page: if no notification came yet, ask the gateway; close a stale order."""
    at = at or timezone.now()
    order.gateway_status = None  # what the gateway answered ("paid", "pending", ...), None: not asked
    if order.status != OrderStatus.PENDING:
        return order
    if order.gateway:
        try:
            result = get_gateway(order.gateway).query(order.number)
        except GatewayError:
            result = None
        order.gateway_status = result.status if result is not None else None
        if result is not None and result.status == "paid":
            payment_confirm(
                gateway_name=order.gateway,
                at=at,
                notice=PaymentNotice(
                    order_number=order.number,
                    gateway_txn_id=result.gateway_txn_id,
                    amount_fen=result.amount_fen,
                    paid_at=result.paid_at,
                ),
            )
            order.refresh_from_db()
            return order
    if policy.order_expired(order.created_at, at):
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            if locked.status == OrderStatus.PENDING:
                _close(locked, "超时未支付", at)
        order.refresh_from_db()
    return order


def _close(order: Order, reason: str, at: datetime) -> None:
    _transition(order, OrderStatus.CLOSED)
    order.closed_at, order.close_reason = at, reason
    order.save(update_fields=["status", "closed_at", "close_reason"])
    audit_record("order.closed", subject=order, at=at, data={"reason": reason})


def orders_close_expired(*, at: datetime | None = None) -> int:
    """Scheduled: close unpaid orders older than 30 minutes, asking the gateway first so a
    payment that did arrive is never lost."""
    at = at or timezone.now()
    n = 0
    stale = Order.objects.filter(status=OrderStatus.PENDING, created_at__lte=at - policy.ORDER_PAY_TIMEOUT)
    for order in stale.iterator():
        if order_sync(order=order, at=at).status == OrderStatus.CLOSED:
            n += 1
    return n


def order_cancel(*, user: User, order_number: str, at: datetime | None = None) -> Order:
    at = at or timezone.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(number=order_number, user=user).first()
        if order is None:
            raise OrderError("no_order", "订单不存在。")
        if order.status != OrderStatus.PENDING:
            raise OrderError("not_pending", "只有待支付的订单可以取消。")
        _close(order, "用户取消", at)
    return order


def _notify(user: User, event: str, at: datetime, text: str) -> None:
    if user.mobile:
        message_queue(
            channel=MsgChannel.SMS,
            to=user.mobile,
            user=user,
            at=at,
            event=event,
            body=f"【内蒙古会计继续教育】{text}",
        )
    if user.email and user.email_verified_at:
        message_queue(
            channel=MsgChannel.EMAIL,
            to=user.email,
            user=user,
            at=at,
            event=event,
            subject="内蒙古会计继续教育平台通知",
            body=f"{user.name}，您好：\n\n{text}",
        )


# --- refunds (rules R5) ------------------------------------------------------------------------
def refund_request(*, user: User, order_number: str, reason: str, at: datetime | None = None) -> Refund:
    at = at or timezone.now()
    if not (reason or "").strip():
        raise OrderError("reason_required", "请填写退款原因。", field="reason")
    with transaction.atomic():
        order = (
            Order.objects.select_for_update()
            .select_related("product__year")
            .filter(number=order_number, user=user)
            .first()
        )
        if order is None:
            raise OrderError("no_order", "订单不存在。")
        decision = policy.refund_decision(
            order_status=order.status,
            paid_at=order.paid_at,
            at=at,
            year_complete=selectors.year_task_complete(user, order.product.year),
        )
        if not decision.allowed:
            raise OrderError(decision.code, decision.message)
        _transition(order, OrderStatus.REFUND_REQUESTED)
        order.save(update_fields=["status"])
        refund = Refund.objects.create(
            order=order,
            refund_no="RF" + order.number[3:] + secrets.token_hex(2).upper(),
            amount_fen=order.amount_fen,
            reason=reason.strip(),
            requested_at=at,
        )
        audit_record(
            "refund.requested",
            actor=user,
            subject=refund,
            at=at,
            data={"order": order.number, "amount_fen": refund.amount_fen},
        )
    return refund


def refund_reject(*, refund_id: int, reviewer: User, note: str, at: datetime | None = None) -> Refund:
    at = at or timezone.now()
    if not (note or "").strip():
        raise OrderError("note_required", "驳回时请填写审核意见。", field="decision_note")
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != RefundStatus.REQUESTED:
            raise OrderError("already_decided", "该退款申请已处理。")
        order = Order.objects.select_for_update().get(pk=refund.order_id)
        _transition(order, OrderStatus.PAID)
        order.save(update_fields=["status"])
        refund.status, refund.decided_at, refund.decided_by, refund.decision_note = (
            RefundStatus.REJECTED,
            at,
            reviewer,
            note.strip(),
        )
        refund.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
        audit_record(
            "refund.rejected", actor=reviewer, subject=refund, at=at, data={"note": refund.decision_note}
        )
        _notify(
            order.user,
            "refund.rejected",
            at,
            f"您的订单 {order.number} 退款申请未通过：{refund.decision_note}",
        )
    return refund


def refund_approve(*, refund_id: int, reviewer: User, note: str = "", at: datetime | None = None) -> Refund:
    """Approve and pay back through the same gateway, only while the agreement still allows
    the refund (policy.refund_approval_decision: not once the learner completed the year while
    the request waited; nothing changes and the reviewer is told to reject). Step 1 moves the request to
    `processing` under a row lock (a double click or a second reviewer finds it taken);
    step 2 calls the gateway with the refund number (idempotent at the gateway); step 3
    records the outcome. A crash between steps leaves `processing`, which
    `refunds_resume` retries with the same refund number."""
    at = at or timezone.now()
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != RefundStatus.REQUESTED:
            raise OrderError("already_decided", "该退款申请已处理。")
        order = Order.objects.select_related("user", "product__year").get(pk=refund.order_id)
        decision = policy.refund_approval_decision(
            paid_at=order.paid_at,  # type: ignore[arg-type]  # a refund is only ever asked of a paid order
            requested_at=refund.requested_at,
            year_complete=selectors.year_task_complete(order.user, order.product.year),
        )
        if not decision.allowed:
            raise OrderError(decision.code, decision.message)
        refund.status, refund.decided_at, refund.decided_by, refund.decision_note = (
            RefundStatus.PROCESSING,
            at,
            reviewer,
            (note or "").strip(),
        )
        refund.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
        audit_record(
            "refund.approved", actor=reviewer, subject=refund, at=at, data={"note": refund.decision_note}
        )
    return refund_execute(refund_id=refund.pk, at=at)


def refund_execute(*, refund_id: int, at: datetime | None = None) -> Refund:
    at = at or timezone.now()
    refund = Refund.objects.select_related("order").get(pk=refund_id)
    if refund.status != RefundStatus.PROCESSING:
        return refund
    order = refund.order
    try:
        result = get_gateway(order.gateway).refund(
            order_number=order.number,
            refund_no=refund.refund_no,
            amount_fen=refund.amount_fen,
            total_fen=order.amount_fen,
            reason=refund.reason[:80],
        )
    except GatewayError as exc:
        Refund.objects.filter(pk=refund.pk).update(last_error=str(exc)[:2000])
        log.warning("refund %s: gateway error, will retry: %s", refund.refund_no, exc)
        refund.refresh_from_db()
        return refund
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != RefundStatus.PROCESSING:
            return refund
        order = Order.objects.select_for_update().get(pk=refund.order_id)
        if not result.succeeded:
            refund.status, refund.last_error = RefundStatus.FAILED, result.detail[:2000]
            refund.save(update_fields=["status", "last_error"])
            _transition(order, OrderStatus.PAID)
            order.save(update_fields=["status"])
            audit_record("refund.failed", subject=refund, at=at, data={"detail": result.detail[:500]})
            return refund
        refund.status, refund.gateway_refund_id, refund.refunded_at = (
            RefundStatus.SUCCEEDED,
            result.gateway_refund_id,
            at,
        )
        refund.save(update_fields=["status", "gateway_refund_id", "refunded_at"])
        _transition(order, OrderStatus.REFUNDED)
        order.save(update_fields=["status"])
        Enrolment.objects.filter(order=order).update(status=EnrolmentStatus.CLOSED, closed_at=at)
        revoked = _after_refund(order, refund, at)
        audit_record(
            "refund.succeeded",
            subject=refund,
            at=at,
            data={
                "order": order.number,
                "amount_fen": refund.amount_fen,
                "gateway_refund_id": result.gateway_refund_id,
            },
        )
        _notify(
            order.user,
            "refund.succeeded",
            at,
            f"您的订单 {order.number} 已退款 {refund.amount_fen / 100:.2f} 元，将原路退回；该课程已关闭。"
            + policy.refund_credits_sms_line(revoked),
        )
    return refund


def _after_refund(order: Order, refund: Refund, at: datetime) -> int:
    """What else a refund undoes: the invoice (a red-letter invoice) and, once the credits
    issue exists, the credits earned under the order. The money has already gone back, so a
    failing invoice service must not roll the refund back: the red invoice is then issued by
    the hourly `invoice_reverse_sweep` (invoicing.services.invoice_reverse_after_refund,
    registered by InvoicingConfig.ready: invoicing sits above orders). Returns how many credit
    records were revoked."""
    revoked = credits_revoke_for_order(
        order=order, reason=f"订单退款 {refund.refund_no}", at=at, actor=refund.decided_by
    )
    hooks.refunded.send(order=order, refund=refund, at=at)
    return revoked


def refunds_resume(*, at: datetime | None = None) -> int:
    """Scheduled: retry refunds left in `processing` (gateway error or a crash)."""
    n = 0
    for rid in Refund.objects.filter(status=RefundStatus.PROCESSING).values_list("pk", flat=True):
        refund_execute(refund_id=rid, at=at)
        n += 1
    return n
