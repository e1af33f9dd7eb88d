from django.conf import settings
from django.db import models


class AgreementVersion(models.Model):
    """One published text of 用户服务协议与隐私政策 (rules R2.1). Never edited after publishing:
    a correction is a new row, marked minor when it changes no obligation."""

    version = models.CharField("版本号", max_length=20, unique=True)
    title = models.CharField("标题", max_length=100, default="用户服务协议与隐私政策")
    body = models.TextField("正文")
    text_hash = models.CharField("正文哈希", max_length=64, editable=False)
    is_minor = models.BooleanField(
        "勘误（无需重新同意）",
        default=False,
        help_text="仅更正错别字等、不改变任何权利义务时勾选；用户无需重新同意。",
    )
    amends = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="minor_edits",
        verbose_name="所更正的版本",
        editable=False,
    )
    summary = models.TextField("主要变更说明", blank=True)
    published_at = models.DateTimeField("发布时间", editable=False)
    effective_at = models.DateTimeField("生效时间")
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="发布人",
        editable=False,
    )

    class Meta:
        ordering = ["-effective_at", "-id"]
        verbose_name = verbose_name_plural = "协议版本"

    def __str__(self):
        return f"{self.title} v{self.version}"

    @property
    def major_id(self):
        """The version whose acceptance this text falls under."""
        return self.amends_id or self.id


class Decision(models.TextChoices):
    ACCEPTED = "accepted", "同意"
    DECLINED = "declined", "不同意"


class AgreementAcceptance(models.Model):
    """Who accepted (or declined) which text, when, from where (rules R2.2). Append-only."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="agreement_decisions",
        verbose_name="用户",
    )
    version = models.ForeignKey(AgreementVersion, on_delete=models.PROTECT, verbose_name="版本")
    major_version = models.ForeignKey(
        AgreementVersion, on_delete=models.PROTECT, related_name="+", verbose_name="对应主版本"
    )
    decision = models.CharField("决定", max_length=10, choices=Decision.choices)
    text_hash = models.CharField("正文哈希", max_length=64)
    at = models.DateTimeField("时间")
    ip = models.GenericIPAddressField("IP", null=True)
    user_agent = models.CharField("浏览器", max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = verbose_name_plural = "协议同意记录"
        indexes = [models.Index(fields=["user", "major_version", "decision"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("agreement decisions are never overwritten")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("agreement decisions are never deleted")
