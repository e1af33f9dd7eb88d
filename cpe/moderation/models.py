from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cpe.accounts.models import User

from .states import BanKind


class Ban(models.Model):
    """A ban of one account or of an IP address/range (rules R12), in force during
    [starts_at, ends_at) (no end: until lifted). Rows are never deleted: lifting records who and when."""

    kind = models.CharField("类型", max_length=16, choices=BanKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="账号",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bans",
    )
    network = models.CharField(
        "IP 地址/地址段",
        max_length=64,
        blank=True,
        help_text="例如 203.0.113.7、203.0.113.0/24、2001:db8::/48",
    )
    reason = models.TextField("封禁原因", help_text="会显示给被封禁的用户。")
    starts_at = models.DateTimeField("开始时间", default=timezone.now)
    ends_at = models.DateTimeField("结束时间", null=True, blank=True, help_text="留空表示直至解除。")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="操作人",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    lifted_at = models.DateTimeField("解除时间", null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="解除人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    lift_note = models.TextField("解除说明", blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "封禁"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="moderation_ban_target",
                condition=(
                    Q(kind=BanKind.ACCOUNT, user__isnull=False, network="")
                    | Q(kind=BanKind.NETWORK, user__isnull=True) & ~Q(network="")
                ),
            ),
            models.CheckConstraint(
                name="moderation_ban_window",
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
            ),
        ]
        indexes = [models.Index(fields=["lifted_at", "ends_at"], name="moderation_ban_live")]

    def __str__(self):
        target = (
            self.network if self.kind == BanKind.NETWORK else (self.user.name_masked if self.user else "")
        )
        return f"{self.get_kind_display()} {target}"


class LearnerAccount(User):
    """The staff's "账号处置" view of learners (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = verbose_name_plural = "账号处置"
        permissions = [
            ("terminate_learneraccount", "可终止学员账号服务"),
            ("ban_learneraccount", "可封禁学员账号"),
        ]
