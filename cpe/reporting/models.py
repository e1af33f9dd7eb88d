from django.conf import settings
from django.db import models

from cpe.core.fields import EncryptedTextField

from .states import CheckResult, ExportStatus, Purpose, ReportKind, ReportState


class AisPerson(models.Model):
    """What the AIS said about a learner: its person_id (needed to report credits) and the
    latest check. One row per user; the User's ais_status/ais_checked_at are kept in step."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ais_person", verbose_name="用户"
    )
    person_id = models.CharField("AIS 人员编号", max_length=64, blank=True, db_index=True)
    region_code = models.CharField("AIS 管理地区代码", max_length=12, blank=True)
    status = models.CharField("AIS 人员状态", max_length=32, blank=True)
    last_result = models.CharField("最近核验结果", max_length=16, choices=CheckResult.choices, blank=True)
    last_error = models.CharField("最近错误", max_length=300, blank=True)
    checked_at = models.DateTimeField("最近核验时间", null=True, blank=True)
    found_at = models.DateTimeField("首次纳入时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "AIS 人员核验"

    def __str__(self):
        return f"{self.user} · {self.get_last_result_display() or '未核验'}"


class AisExchange(models.Model):
    """One HTTP attempt to the AIS and its answer (or the transport error). Bodies are stored
    with the ID number and the name masked."""

    at = models.DateTimeField("时间", db_index=True)
    purpose = models.CharField("用途", max_length=16, choices=Purpose.choices, blank=True)
    method = models.CharField("方法", max_length=8)
    path = models.CharField("路径", max_length=300)
    attempt = models.PositiveSmallIntegerField("第几次尝试", default=1)
    status = models.PositiveSmallIntegerField("HTTP 状态", null=True, blank=True)
    duration_ms = models.PositiveIntegerField("耗时（毫秒）", default=0)
    idempotency_key = models.CharField("幂等键", max_length=128, blank=True, db_index=True)
    request_body = models.JSONField("请求（已脱敏）", null=True, blank=True)
    answer_body = models.JSONField("应答（已脱敏）", null=True, blank=True)
    error = models.CharField("错误", max_length=400, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = verbose_name_plural = "AIS 接口调用记录"

    def __str__(self):
        return f"{self.method} {self.path} → {self.status or self.error[:30]}"

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300


class AisReport(models.Model):
    """The outbox (conventions C3): one row per credit record to report (kind
    credit) and per reported record revoked (kind reversal), written in the transaction of the
    fact it reports. `body` is the exact JSON sent, encrypted (it holds the ID number and the
    name): every resend sends these bytes with the same idempotency key, so the AIS answers a
    resend with the first receipt (ADR 0004)."""

    kind = models.CharField("类型", max_length=8, choices=ReportKind.choices)
    record = models.ForeignKey(
        "credits.CreditRecord", on_delete=models.PROTECT, related_name="ais_reports", verbose_name="学时记录"
    )
    idempotency_key = models.CharField("幂等键", max_length=128, unique=True)
    body = EncryptedTextField("请求正文（加密）", blank=True)
    state = models.CharField("状态", max_length=16, choices=ReportState.choices, default=ReportState.PENDING)
    attempts = models.PositiveIntegerField("发送次数", default=0)
    next_attempt_at = models.DateTimeField("下次发送时间", null=True, blank=True)
    receipt_no = models.CharField("回执号", max_length=64, blank=True, db_index=True)
    reversal_no = models.CharField("撤销编号", max_length=64, blank=True)
    last_status = models.PositiveSmallIntegerField("最近 HTTP 状态", null=True, blank=True)
    last_error = models.CharField("AIS 应答 / 错误", max_length=400, blank=True)
    created_at = models.DateTimeField("创建时间")
    updated_at = models.DateTimeField("更新时间")
    last_attempt_at = models.DateTimeField("最近发送时间", null=True, blank=True)
    sent_at = models.DateTimeField("上报成功时间", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = verbose_name_plural = "AIS 上报队列"
        constraints = [
            models.UniqueConstraint(fields=["record", "kind"], name="one_ais_report_per_record_kind"),
            models.CheckConstraint(
                condition=~models.Q(state="sent") | ~models.Q(receipt_no=""), name="sent_report_has_receipt"
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]
        permissions = [
            ("retry_aisreport", "可重试 AIS 上报"),
            ("reconcile_aisreport", "可进行 AIS 对账"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.idempotency_key} · {self.get_state_display()}"


class ExportJob(models.Model):
    """A background Excel export of a year's results (rules R9.2). The file lands in the
    "exports" storage (EXPORT_ROOT outside every served directory, or the private bucket's
    exports prefix) with a random name, is handed out only by the permission-checked, audited
    staff download view, and is deleted at `expires_at`."""

    year = models.PositiveSmallIntegerField("年度")
    region = models.CharField("地区", max_length=6, blank=True, help_text="空：全部地区")
    status = models.CharField("状态", max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField("进度（%）", default=0)
    rows_total = models.PositiveIntegerField("总行数", default=0)
    rows_done = models.PositiveIntegerField("已写行数", default=0)
    file = models.CharField("文件", max_length=300, blank=True)
    error = models.CharField("错误", max_length=400, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="发起人",
    )
    created_at = models.DateTimeField("创建时间")
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    expires_at = models.DateTimeField("文件保留至", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = verbose_name_plural = "年度学时导出"
        permissions = [("export_results", "可导出年度学时（含身份证号码、手机号码）")]

    def __str__(self):
        return f"{self.year} {self.region or '全部'} · {self.get_status_display()}"
