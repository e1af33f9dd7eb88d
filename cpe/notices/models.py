from django.db import models

from cpe.core.fields import EncryptedTextField


class Channel(models.TextChoices):
    SMS = "sms", "短信"
    EMAIL = "email", "电子邮件"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "待发送"
    SENT = "sent", "已发送"
    FAILED = "failed", "发送失败"


class OutboundMessage(models.Model):
    """Every SMS and e-mail, written in the transaction of the event it reports and sent
    after commit by a retry-safe task: a failed send never loses the event (SPEC §13)."""

    channel = models.CharField("渠道", max_length=8, choices=Channel.choices)
    event = models.CharField("事件", max_length=40)
    user = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL)
    to = EncryptedTextField("收件人")
    to_masked = models.CharField("收件人", max_length=100)
    subject = models.CharField("主题", max_length=200, blank=True)
    body = EncryptedTextField("内容")
    status = models.CharField("状态", max_length=8, choices=MessageStatus.choices,
                              default=MessageStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    last_error = models.TextField("错误", blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField("创建时间", db_index=True)
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = verbose_name_plural = "短信与邮件"
