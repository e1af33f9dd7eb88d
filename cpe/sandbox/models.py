"""State of the embedded sandbox gateway: its trades, refunds and notification deliveries.
Nothing here belongs to the shop: these tables stand for Alipay's and WeChat Pay's books."""

from django.db import models
from django.utils import timezone

from cpe.core.money import fen_to_yuan

KIND_LABELS = {"page": "电脑网站支付", "wap": "手机网站支付", "native": "扫码支付", "h5": "H5 支付"}


class SandboxTrade(models.Model):
    class Gateway(models.TextChoices):
        ALIPAY = "alipay", "支付宝"
        WECHAT = "wechat", "微信支付"

    class Status(models.TextChoices):
        WAIT = "wait", "待支付"
        PAID = "paid", "已支付"
        CLOSED = "closed", "已关闭"

    gateway = models.CharField(max_length=8, choices=Gateway.choices)
    kind = models.CharField(max_length=8)  # alipay: page | wap; wechat: native | h5
    out_trade_no = models.CharField("商户订单号", max_length=64)
    trade_no = models.CharField("交易号", max_length=64, unique=True)
    token = models.CharField(max_length=43, unique=True)  # pay page address
    subject = models.CharField("商品", max_length=256)
    amount_fen = models.PositiveIntegerField("金额（分）")
    notify_url = models.CharField(max_length=500)
    return_url = models.CharField(max_length=500, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAIT)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    notify_id = models.CharField(max_length=64, blank=True)  # shared by every retry of one notification
    refunded_fen = models.PositiveIntegerField(default=0)
    request = models.JSONField(default=dict)  # the merchant's last create request

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = "沙箱交易"
        constraints = [models.UniqueConstraint(fields=["gateway", "out_trade_no"], name="sandbox_trade_once")]

    def __str__(self):
        return f"{self.gateway}:{self.out_trade_no}"

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def amount_yuan(self) -> str:
        return fen_to_yuan(self.amount_fen)

    @property
    def refunded_yuan(self) -> str:
        return fen_to_yuan(self.refunded_fen)

    @property
    def expired(self) -> bool:
        return (
            self.status == self.Status.WAIT
            and self.expires_at is not None
            and self.expires_at < timezone.now()
        )

    @property
    def effective_status(self) -> str:
        """Unpaid trades close by themselves once their time_expire has passed."""
        return self.Status.CLOSED if self.expired else self.status


class SandboxRefund(models.Model):
    trade = models.ForeignKey(SandboxTrade, on_delete=models.CASCADE, related_name="refunds")
    refund_no = models.CharField("商户退款单号", max_length=64)  # out_request_no / out_refund_no
    refund_id = models.CharField("退款单号", max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField("退款金额（分）")
    reason = models.CharField(max_length=256, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        verbose_name = verbose_name_plural = "沙箱退款"
        constraints = [models.UniqueConstraint(fields=["trade", "refund_no"], name="sandbox_refund_once")]


class SandboxDelivery(models.Model):
    """One attempt to deliver an asynchronous notification to the merchant's notify_url."""

    trade = models.ForeignKey(SandboxTrade, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    answer = models.CharField(max_length=500, blank=True)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["sent_at", "attempt"]
        verbose_name = verbose_name_plural = "沙箱通知投递"


class SandboxSms(models.Model):
    """A text the embedded Aliyun SMS stand-in accepted: stands for the provider's send log."""

    biz_id = models.CharField(max_length=40, unique=True)
    phone = models.CharField(max_length=20)
    sign_name = models.CharField(max_length=40)
    template_code = models.CharField(max_length=40)
    params = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = verbose_name_plural = "沙箱短信"
