from django.conf import settings
from django.db import models

from cpe.core.datefmt import local_datetime

from .states import ThreadStatus


class Category(models.TextChoices):
    ACCOUNT = "account", "账号与登录"
    PURCHASE = "purchase", "购课与支付"
    LEARNING = "learning", "学习与考试"
    CREDITS = "credits", "学时与上报"
    INVOICE = "invoice", "发票与退款"
    OTHER = "other", "其他"


class FaqEntry(models.Model):
    """One 自主答疑 entry (rules R13), edited by staff. The answer may name the platform's
    numbers by placeholder (policy.FAQ_FACTS), filled when shown."""

    category = models.CharField("分类", max_length=20, choices=Category.choices, default=Category.OTHER)
    question = models.CharField("问题", max_length=200)
    answer = models.TextField(
        "解答",
        help_text="可使用占位符，显示时自动替换为平台当前规定：{退款天数}、{发票截止}、{支付时限分钟}、"
        "{客服电话}、{客服邮箱}。",
    )
    position = models.PositiveSmallIntegerField("排序", default=0, help_text="同一分类内按数字从小到大排列。")
    is_published = models.BooleanField("发布", default=False, help_text="勾选后学员可在“常见问题”页面看到。")
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        ordering = ["category", "position", "id"]
        verbose_name = verbose_name_plural = "常见问题"

    def __str__(self):
        return self.question


class Thread(models.Model):
    """A learner's question and its conversation with staff (rules R13 在线交互)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="support_threads",
        verbose_name="学员",
    )
    title = models.CharField("标题", max_length=100)
    category = models.CharField("分类", max_length=20, choices=Category.choices, blank=True)
    status = models.CharField(
        "状态", max_length=10, choices=ThreadStatus.choices, default=ThreadStatus.WAITING
    )
    created_at = models.DateTimeField("提问时间")
    last_message_at = models.DateTimeField("最后回复时间")
    closed_at = models.DateTimeField("关闭时间", null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="关闭人",
    )

    class Meta:
        ordering = ["-last_message_at", "-id"]
        verbose_name = verbose_name_plural = "学员提问"
        indexes = [
            models.Index(fields=["user", "status"]),
            models.Index(fields=["status", "last_message_at"]),
        ]

    def __str__(self):
        return self.title

    @property
    def is_closed(self) -> bool:
        return self.status == ThreadStatus.CLOSED


class Message(models.Model):
    """One message of a thread: the question, a follow-up, or a staff answer. Never edited."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages", verbose_name="提问")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="发言人",
    )
    from_staff = models.BooleanField("客服回复", default=False)
    body = models.TextField("内容")
    created_at = models.DateTimeField("时间")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = verbose_name_plural = "问答消息"

    def __str__(self):
        return f"{'客服' if self.from_staff else '学员'} {local_datetime(self.created_at)}"
