from django.db import models


class OrderStatus(models.TextChoices):
    PENDING = "pending", "待支付"
    PAID = "paid", "已支付"
    REFUND_REQUESTED = "refund_requested", "退款审核中"
    REFUNDED = "refunded", "已退款"
    CLOSED = "closed", "已关闭"


# rules R4.1: pending → paid → (refund_requested → refunded | back to paid); pending → closed.
TRANSITIONS = {
    OrderStatus.PENDING: {OrderStatus.PAID, OrderStatus.CLOSED},
    OrderStatus.PAID: {OrderStatus.REFUND_REQUESTED},
    OrderStatus.REFUND_REQUESTED: {OrderStatus.REFUNDED, OrderStatus.PAID},
    OrderStatus.REFUNDED: set(),
    OrderStatus.CLOSED: set(),
}


class Gateway(models.TextChoices):
    ALIPAY = "alipay", "支付宝"
    WECHAT = "wechat", "微信支付"


class Channel(models.TextChoices):
    ALIPAY_PAGE = "alipay_page", "支付宝（电脑网站支付）"
    ALIPAY_WAP = "alipay_wap", "支付宝（手机网站支付）"
    WECHAT_NATIVE = "wechat_native", "微信支付（扫码支付）"
    WECHAT_H5 = "wechat_h5", "微信支付（H5 支付）"


CHANNEL_GATEWAY: dict[str, Gateway] = {
    Channel.ALIPAY_PAGE: Gateway.ALIPAY,
    Channel.ALIPAY_WAP: Gateway.ALIPAY,
    Channel.WECHAT_NATIVE: Gateway.WECHAT,
    Channel.WECHAT_H5: Gateway.WECHAT,
}


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", "待审核"
    REJECTED = "rejected", "已驳回"
    PROCESSING = "processing", "退款处理中"
    SUCCEEDED = "succeeded", "已退款"
    FAILED = "failed", "退款失败"


REFUND_OPEN = [RefundStatus.REQUESTED, RefundStatus.PROCESSING, RefundStatus.SUCCEEDED]
