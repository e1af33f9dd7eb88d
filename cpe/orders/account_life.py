"""orders' part of the account's life (cpe.accounts.lifecycle): orders and refunds in the data copy,
the payment transfers (rules R14.3), the closing facts (a refund in progress; the last payment or
refund, which decides the outcome) and the closing step (rules R11): unpaid orders go with a
never-paid account; paid orders and refunds stay as pseudonymous transaction records
(电子商务法 Art. 31) and are sealed into the archive. Registered by OrdersConfig.ready()."""

from django.db.models import Max

from cpe.accounts import lifecycle
from cpe.accounts.lifecycle import ClosingStep, Section, display, yuan

from .models import Order, Refund
from .states import OrderStatus, RefundStatus

PAYMENT_FIELDS = "订单号、商品名称、金额"


def _iso(t):
    return t.isoformat() if t else None


def _orders(user):
    return Order.objects.filter(user=user).select_related("product").order_by("created_at", "id")


def _refunds(user):
    return Refund.objects.filter(order__user=user).select_related("order").order_by("requested_at", "id")


def _transfers(user) -> list[dict]:
    """The payment gateway of every paid order."""
    return [
        {
            "接收方": o.get_gateway_display() or "支付机构",
            "目的": "完成订单支付（及退款）",
            "提供的信息": PAYMENT_FIELDS,
            "时间": lifecycle.fmt(o.paid_at),
            "关联记录": f"订单 {o.number}",
        }
        for o in Order.objects.filter(user=user, paid_at__isnull=False).order_by("paid_at", "id")
    ]


def _refund_in_progress(user) -> bool:
    return (
        Order.objects.filter(user=user, status=OrderStatus.REFUND_REQUESTED).exists()
        or Refund.objects.filter(
            order__user=user,
            status__in=[RefundStatus.REQUESTED, RefundStatus.PROCESSING, RefundStatus.FAILED],
        ).exists()
    )


def last_transaction_at(user):
    """The latest payment or refund of the learner's orders (None: never paid)."""
    paid = Order.objects.filter(user=user, paid_at__isnull=False).aggregate(m=Max("paid_at"))["m"]
    refunded = Refund.objects.filter(order__user=user, refunded_at__isnull=False).aggregate(
        m=Max("refunded_at")
    )["m"]
    return max([t for t in (paid, refunded) if t is not None], default=None)


def _delete_unpaid(user) -> int:
    return Order.objects.filter(user=user, paid_at__isnull=True).delete()[0]


def _archive(user) -> dict:
    return {
        "orders": [
            {
                "number": o.number,
                "subject": o.subject,
                "amount_fen": o.amount_fen,
                "status": o.status,
                "gateway": o.gateway,
                "channel": o.channel,
                "gateway_txn_id": o.gateway_txn_id,
                "created_at": _iso(o.created_at),
                "paid_at": _iso(o.paid_at),
                "closed_at": _iso(o.closed_at),
            }
            for o in Order.objects.filter(user=user).order_by("id")
        ],
        "refunds": [
            {
                "refund_no": r.refund_no,
                "order": r.order.number,
                "amount_fen": r.amount_fen,
                "reason": r.reason,
                "status": r.status,
                "requested_at": _iso(r.requested_at),
                "refunded_at": _iso(r.refunded_at),
            }
            for r in Refund.objects.filter(order__user=user).select_related("order").order_by("id")
        ],
    }


def register() -> None:
    lifecycle.register_section(
        Section(
            "订单",
            _orders,
            order=60,
            models=("orders.Order",),
            columns=(
                ("订单号", "number"),
                ("商品", "subject"),
                ("金额（元）", yuan("amount_fen")),
                ("状态", display("status")),
                ("下单时间", "created_at"),
                ("支付时间", "paid_at"),
                ("有效期（天）", "validity_days"),
                ("支付方式", display("gateway")),
                ("支付渠道", display("channel")),
                ("支付流水号", "gateway_txn_id"),
                ("关闭时间", "closed_at"),
                ("关闭原因", "close_reason"),
            ),
        )
    )
    lifecycle.register_section(
        Section(
            "退款",
            _refunds,
            order=70,
            models=("orders.Refund",),
            columns=(
                ("退款单号", "refund_no"),
                ("订单号", "order.number"),
                ("退款金额（元）", yuan("amount_fen")),
                ("退款原因", "reason"),
                ("状态", display("status")),
                ("申请时间", "requested_at"),
                ("审核时间", "decided_at"),
                ("审核意见", "decision_note"),
                ("退款时间", "refunded_at"),
            ),
        )
    )
    lifecycle.register_transfers("orders.payment", _transfers, order=20)
    lifecycle.register_closing_fact("refund_in_progress", _refund_in_progress)
    lifecycle.register_closing_fact("last_transaction_at", last_transaction_at)
    lifecycle.register_closing_step(
        ClosingStep(
            "unpaid_orders",
            order=90,
            models=("orders.Order", "orders.Refund"),
            reason="never paid: unpaid orders deleted (nothing to keep); paid orders and their refunds stay "
            "as pseudonymous transaction records for 3 years (电子商务法 Art. 31), sealed into "
            "the archive",
            delete=_delete_unpaid,
            archive=_archive,
        )
    )
    lifecycle.register_message_labels(
        {
            "order.paid": "支付成功通知",
            "order.closed": "订单关闭通知",
            "refund.requested": "退款申请通知",
            "refund.approved": "退款审核通过通知",
            "refund.rejected": "退款申请未通过通知",
            "refund.succeeded": "退款成功通知",
            "refund.failed": "退款失败通知",
        }
    )
