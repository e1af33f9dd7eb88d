from django.db import models

from cpe.core.fields import EncryptedTextField
from cpe.core.regions import Region


class Channel(models.TextChoices):
    SMS = "sms", "短信"
    EMAIL = "email", "电子邮件"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "待发送"
    SENT = "sent", "已发送"
    FAILED = "failed", "发送失败"


class OutboundMessage(models.Model):
    """Every SMS and e-mail, written in the transaction of the event it reports and sent
    after commit by a retry-safe task: a failed send never loses the event (rules R13)."""

    channel = models.CharField("渠道", max_length=8, choices=Channel.choices)
    event = models.CharField("事件", max_length=40)
    user = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL)
    to = EncryptedTextField("收件人")
    to_masked = models.CharField("收件人", max_length=100)
    subject = models.CharField("主题", max_length=200, blank=True)
    body = EncryptedTextField("内容")
    params = EncryptedTextField("模板参数", blank=True)  # JSON, for template-based SMS providers
    status = models.CharField(
        "状态", max_length=8, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    last_error = models.TextField("错误", blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField("创建时间", db_index=True)
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = verbose_name_plural = "短信与邮件"


class AnnouncementKind(models.TextChoices):
    NOTICE = "notice", "通知公告"
    MAINTENANCE = "maintenance", "系统维护"


class Audience(models.TextChoices):
    ALL = "all", "全体用户"
    REGION = "region", "指定地区的学员"
    YEAR_BUYERS = "year_buyers", "已购买指定年度课程的学员"


class Announcement(models.Model):
    """通知、公告 (rules R2.4; agreement §4.5, §8.1: they are part of the agreement). A maintenance
    notice carries its window: a banner before it starts, and learners get a 503 page during it
    (agreement §7.6); staff can still work."""

    kind = models.CharField(
        "类型", max_length=16, choices=AnnouncementKind.choices, default=AnnouncementKind.NOTICE
    )
    title = models.CharField("标题", max_length=100)
    body = models.TextField("正文")
    audience = models.CharField("对象", max_length=16, choices=Audience.choices, default=Audience.ALL)
    region = models.CharField(
        "地区",
        max_length=6,
        blank=True,
        choices=Region.choices,
        help_text="对象为“指定地区的学员”时填写（会计人员信息管理地区）。",
    )
    year = models.ForeignKey(
        "catalog.TrainingYear",
        verbose_name="培训年度",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="对象为“已购买指定年度课程的学员”时填写。",
    )
    published_at = models.DateTimeField(
        "发布时间", null=True, blank=True, db_index=True, help_text="留空为草稿；到发布时间后才显示。"
    )
    effective_at = models.DateTimeField("生效时间", null=True, blank=True)
    maintenance_start = models.DateTimeField("维护开始", null=True, blank=True)
    maintenance_end = models.DateTimeField("维护结束", null=True, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = verbose_name_plural = "通知公告"
        indexes = [models.Index(fields=["kind", "maintenance_end"])]

    def __str__(self):
        return self.title

    def clean(self):
        from django.core.exceptions import ValidationError

        from . import policy

        errors = policy.announcement_errors(
            kind=self.kind,
            audience=self.audience,
            region=self.region,
            year_id=self.year_id,
            start=self.maintenance_start,
            end=self.maintenance_end,
        )
        if errors:
            raise ValidationError(errors)
