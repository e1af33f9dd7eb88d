from django.conf import settings
from django.db import models

from cpe.core.money import fen_to_yuan

from .states import REFUND_OPEN, Channel, Gateway, OrderStatus, RefundStatus


class Order(models.Model):
    number = models.CharField("订单号", max_length=32, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", verbose_name="学员"
    )
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, verbose_name="商品")
    subject = models.CharField("商品名称", max_length=200)
    amount_fen = models.PositiveIntegerField("金额（分）")
    validity_days = models.PositiveSmallIntegerField("有效期（天）")
    status = models.CharField("状态", max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    gateway = models.CharField("支付方式", max_length=8, choices=Gateway.choices, blank=True)
    channel = models.CharField("支付渠道", max_length=16, choices=Channel.choices, blank=True)
    gateway_txn_id = models.CharField("支付流水号", max_length=64, unique=True, null=True, blank=True)
    ais_warning_confirmed = models.BooleanField("已确认未纳入提示", default=False)
    created_at = models.DateTimeField("下单时间", db_index=True)
    paid_at = models.DateTimeField("支付时间", null=True, blank=True)
    closed_at = models.DateTimeField("关闭时间", null=True, blank=True)
    close_reason = models.CharField("关闭原因", max_length=100, blank=True)

    # Not a column: what the gateway answered when services.order_sync asked ("paid", "pending",
    # ...), None: not asked.
    gateway_status: str | None

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = "订单"
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="order_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(status="pending")
                | models.Q(status="closed")
                | models.Q(paid_at__isnull=False),
                name="paid_orders_have_paid_at",
            ),
        ]

    def __str__(self):
        return self.number

    @property
    def amount_yuan(self):
        return fen_to_yuan(self.amount_fen)


class PaymentNotification(models.Model):
    """Every asynchronous notification as received, verified or not (rules R4.2)."""

    gateway = models.CharField(max_length=8, choices=Gateway.choices)
    received_at = models.DateTimeField(db_index=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    notify_id = models.CharField(max_length=100, blank=True, db_index=True)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    outcome = models.CharField(max_length=40)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = verbose_name_plural = "支付通知"


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds", verbose_name="订单")
    refund_no = models.CharField("退款单号", max_length=40, unique=True)
    amount_fen = models.PositiveIntegerField("退款金额（分）")
    reason = models.TextField("退款原因")
    status = models.CharField(
        "状态", max_length=12, choices=RefundStatus.choices, default=RefundStatus.REQUESTED
    )
    requested_at = models.DateTimeField("申请时间")
    decided_at = models.DateTimeField("审核时间", null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="审核人",
    )
    decision_note = models.TextField("审核意见", blank=True)
    gateway_refund_id = models.CharField("退款流水号", max_length=64, blank=True)
    refunded_at = models.DateTimeField("退款时间", null=True, blank=True)
    last_error = models.TextField("错误", blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = verbose_name_plural = "退款"
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=models.Q(status__in=REFUND_OPEN), name="one_open_refund_per_order"
            ),
        ]

    def __str__(self):
        return self.refund_no
