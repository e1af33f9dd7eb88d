from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from cpe.core.datefmt import local_datetime

if TYPE_CHECKING:
    from cpe.catalog.models import Course


class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", "有效"
    CLOSED = "closed", "已关闭（退款）"


class Enrolment(models.Model):
    """开通: the right to study a product's courses in [valid_from, valid_until) (rules R4.3).
    Expiry is derived from the window; a refund closes it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrolments", verbose_name="学员"
    )
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, verbose_name="商品")
    order = models.OneToOneField(
        "orders.Order", on_delete=models.PROTECT, related_name="enrolment", verbose_name="订单"
    )
    year = models.ForeignKey("catalog.TrainingYear", on_delete=models.PROTECT, verbose_name="培训年度")
    valid_from = models.DateTimeField("生效时间")
    valid_until = models.DateTimeField("到期时间")
    status = models.CharField(
        "状态", max_length=8, choices=EnrolmentStatus.choices, default=EnrolmentStatus.ACTIVE
    )
    closed_at = models.DateTimeField("关闭时间", null=True, blank=True)
    reminded_days = models.JSONField("已发送的到期提醒", default=list, blank=True)

    # Not columns: set on the rows selectors.enrolments_for_dashboard returns.
    state: str
    days_left: int
    courses: "list[Course]"
    all_passed: bool

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = verbose_name_plural = "开通记录"
        indexes = [models.Index(fields=["user", "product", "valid_until"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_until__gt=models.F("valid_from")), name="enrolment_window_not_empty"
            )
        ]

    def __str__(self):
        return f"{self.user} · {self.product}"


class PlaySession(models.Model):
    """One player (a tab or a device) playing one chapter under one enrolment. The account's
    current stream is its newest open session; starting another supersedes it (rules R7.3).
    The fields from last_at on are the policy's StreamState."""

    key = models.CharField(max_length=32, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="play_sessions", verbose_name="学员"
    )
    enrolment = models.ForeignKey(
        Enrolment, on_delete=models.CASCADE, related_name="play_sessions", verbose_name="开通记录"
    )
    chapter = models.ForeignKey(
        "catalog.Chapter", on_delete=models.CASCADE, related_name="+", verbose_name="章节"
    )
    # The web session the player was started in, as cpe.core.crypto.blind_index("session_key", key):
    # a keyed hash, never the key itself (whoever reads this table must not be able to sign in).
    web_session = models.CharField("登录会话（摘要）", max_length=64, blank=True, editable=False)
    ip = models.GenericIPAddressField("IP", null=True, blank=True)
    user_agent = models.CharField("设备", max_length=300, blank=True)
    started_at = models.DateTimeField("开始时间")
    superseded_at = models.DateTimeField("被其他播放器取代时间", null=True, blank=True)
    ended_at = models.DateTimeField("结束时间", null=True, blank=True)
    last_at = models.DateTimeField("上次心跳时间")
    last_seq = models.PositiveIntegerField(default=0)
    last_position = models.FloatField("播放位置（秒）", default=0)
    last_end = models.FloatField(default=0)
    credited_seconds = models.FloatField("本次计时（秒）", default=0)
    play_until_check = models.FloatField(default=0)
    check_issued_at = models.DateTimeField("防挂机确认发出时间", null=True, blank=True)
    check_token = models.CharField(max_length=32, blank=True)
    heartbeats = models.PositiveIntegerField("心跳次数", default=0)
    flags = models.JSONField("可疑行为", default=list, blank=True)
    revoked_at = models.DateTimeField("凭证撤销时间", null=True, blank=True)
    revoked_reason = models.CharField("撤销原因", max_length=24, blank=True)

    # Not columns: what services.play_start tells the player page (where to resume, the
    # learner's progress row and the length measured against).
    resume_at: float
    progress: "ChapterProgress"
    duration: float

    class Meta:
        ordering = ["-started_at"]
        verbose_name = verbose_name_plural = "播放会话"
        indexes = [models.Index(fields=["user", "ended_at", "superseded_at"])]

    def __str__(self):
        return f"{self.user} · {self.chapter} · {local_datetime(self.started_at)}"

    @property
    def is_open(self):
        return self.ended_at is None and self.superseded_at is None


class ChapterProgress(models.Model):
    """A learner's progress on a chapter: the union of credited intervals of the video, the
    furthest point reached, and when the chapter was complete."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chapter_progress",
        verbose_name="学员",
    )
    chapter = models.ForeignKey(
        "catalog.Chapter", on_delete=models.CASCADE, related_name="progress", verbose_name="章节"
    )
    intervals = models.JSONField("已计时区间", default=list, blank=True)
    watched_seconds = models.FloatField("已计时（秒）", default=0)
    furthest_position = models.FloatField("最远位置（秒）", default=0)
    last_position = models.FloatField("上次位置（秒）", default=0)
    completed_at = models.DateTimeField("完成时间", null=True, blank=True)
    updated_at = models.DateTimeField("更新时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "章节学习进度"
        constraints = [models.UniqueConstraint(fields=["user", "chapter"], name="one_progress_per_chapter")]

    def __str__(self):
        return f"{self.user} · {self.chapter}"


class SuspiciousKind(models.TextChoices):
    SKIP = "skip", "跳过未观看内容"
    RATE = "rate", "倍速/超实时上报"
    CONCURRENT = "concurrent", "被其他窗口或设备接管播放"
    IP_CHANGE = "ip_change", "学习中IP变化"
    REPLAY = "replay", "重复上报"
    REVOKED = "revoked", "凭证撤销后仍在上报（退出、封禁、终止或注销后）"
    UNBOUND = "unbound", "播放凭证脱离其登录会话使用"


class SuspiciousEvent(models.Model):
    """A pattern staff may want to look at (rules R7.2-7.3), recorded once per play session
    and kind (the session counts repeats)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="suspicious_events",
        verbose_name="学员",
    )
    session = models.ForeignKey(
        PlaySession, on_delete=models.CASCADE, related_name="events", verbose_name="播放会话"
    )
    chapter = models.ForeignKey(
        "catalog.Chapter", on_delete=models.CASCADE, related_name="+", verbose_name="章节"
    )
    kind = models.CharField("类型", max_length=16, choices=SuspiciousKind.choices)
    at = models.DateTimeField("时间", db_index=True)
    ip = models.GenericIPAddressField("IP", null=True, blank=True)
    detail = models.JSONField("详情", default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = verbose_name_plural = "可疑学习行为"
        constraints = [models.UniqueConstraint(fields=["session", "kind"], name="one_event_per_session_kind")]

    def __str__(self):
        return f"{self.user} · {self.get_kind_display()}"


class VideoStatus(models.TextChoices):
    PENDING = "pending", "排队中"
    PROCESSING = "processing", "转码中"
    READY = "ready", "可播放"
    FAILED = "failed", "失败"


def _source_path(instance, filename):
    import os
    import secrets

    from .policy import VIDEO_EXTENSIONS

    ext = os.path.splitext(filename)[1].lower()
    if ext not in VIDEO_EXTENSIONS:  # the container is checked by content; the name says nothing
        ext = ".video"
    return f"{secrets.token_hex(8)}{ext}"


def _source_storage():
    from .courseware import source_storage

    return source_storage()


class ChapterVideo(models.Model):
    """A chapter's lecture video: the uploaded source and its AES-128 HLS rendition, made by a
    background job (tasks.transcode_chapter_video)."""

    chapter = models.OneToOneField(
        "catalog.Chapter", on_delete=models.CASCADE, related_name="video", verbose_name="章节"
    )
    source = models.FileField("源视频文件", upload_to=_source_path, storage=_source_storage, max_length=200)
    status = models.CharField("状态", max_length=16, choices=VideoStatus.choices, default=VideoStatus.PENDING)
    progress = models.PositiveSmallIntegerField("转码进度（%）", default=0)
    error = models.TextField("错误信息", blank=True)
    duration = models.FloatField("时长（秒）", null=True, blank=True)
    hls_dir = models.CharField("HLS 目录", max_length=200, blank=True, editable=False)
    key_hex = models.CharField(max_length=32, blank=True, editable=False)
    job_token = models.CharField(max_length=32, blank=True, editable=False)
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)
    ready_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "章节视频"

    def __str__(self):
        return f"{self.chapter} · {self.get_status_display()}"

    @property
    def is_ready(self):
        return self.status == VideoStatus.READY and bool(self.hls_dir)
