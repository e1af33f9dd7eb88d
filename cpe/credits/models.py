import uuid

from django.conf import settings
from django.db import models

from cpe.accounts.states import AccountStatus
from cpe.core.masking import mask_name


class RecordStatus(models.TextChoices):
    ACTIVE = "active", "有效"
    REVOKED = "revoked", "已撤销"


class CreditRecord(models.Model):
    """The credit ledger (学时记载): one row per passed course per training year. Rows are never
    deleted or edited; the one change allowed is active → revoked, with a reason (a refund).
    `uid` is the stable identifier other systems (the AIS report) key on. Course code, title,
    category and hours are copied at the pass, so later catalog edits never rewrite history."""

    uid = models.UUIDField("记录编号", default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_records", verbose_name="学员"
    )
    year = models.ForeignKey(
        "catalog.TrainingYear",
        on_delete=models.PROTECT,
        related_name="credit_records",
        verbose_name="培训年度",
    )
    course = models.ForeignKey(
        "catalog.Course", on_delete=models.PROTECT, related_name="credit_records", verbose_name="课程"
    )
    course_code = models.CharField("课程编号", max_length=32)
    course_title = models.CharField("课程名称", max_length=200)
    category = models.CharField(
        "类别", max_length=16, choices=[("professional", "专业科目"), ("public", "公需科目")]
    )
    hours = models.PositiveSmallIntegerField("学时")
    credits = models.PositiveSmallIntegerField("学分")
    score = models.PositiveSmallIntegerField("考试成绩")
    passed_at = models.DateTimeField("考试合格时间")
    attempt = models.OneToOneField(
        "exams.Attempt", on_delete=models.PROTECT, related_name="credit_record", verbose_name="考试记录"
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="credit_records", verbose_name="订单"
    )
    status = models.CharField("状态", max_length=8, choices=RecordStatus.choices, default=RecordStatus.ACTIVE)
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)
    revoke_reason = models.CharField("撤销原因", max_length=200, blank=True)
    created_at = models.DateTimeField("记载时间")

    # Not a column: the record's course certificate, set on the rows selectors.YearSummary holds.
    cert: "Certificate | None"

    class Meta:
        ordering = ["-passed_at"]
        verbose_name = verbose_name_plural = "学时记录"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "course", "year"],
                condition=models.Q(status="active"),
                name="one_active_credit_per_course_year",
            ),
            models.CheckConstraint(
                condition=models.Q(status="active", revoked_at__isnull=True)
                | models.Q(status="revoked", revoked_at__isnull=False),
                name="revoked_record_has_time",
            ),
        ]
        indexes = [models.Index(fields=["user", "status"]), models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.course_title} · {self.hours} 学时"


class CertificateKind(models.TextChoices):
    COURSE = "course", "课程合格证明"
    YEAR = "year", "年度学时证明"


class CertificateStatus(models.TextChoices):
    VALID = "valid", "有效"
    REVOKED = "revoked", "已撤销"


class Certificate(models.Model):
    """A pass certificate (per active credit record) or a completion certificate (学时证明, per
    completed year). `number` is the unguessable verification number printed and encoded in
    the QR code. What it states is copied at issue; the PDF is rendered from these fields."""

    number = models.CharField("证书编号", max_length=32, unique=True)
    kind = models.CharField("类型", max_length=8, choices=CertificateKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="certificates", verbose_name="学员"
    )
    year = models.ForeignKey(
        "catalog.TrainingYear", on_delete=models.PROTECT, related_name="certificates", verbose_name="培训年度"
    )
    record = models.OneToOneField(
        CreditRecord,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="certificate",
        verbose_name="学时记录",
    )
    holder_name = models.CharField("姓名", max_length=30)
    title = models.CharField("内容", max_length=200)
    hours = models.PositiveSmallIntegerField("学时")
    professional_hours = models.PositiveSmallIntegerField("专业科目学时", default=0)
    public_hours = models.PositiveSmallIntegerField("公需科目学时", default=0)
    credits = models.PositiveSmallIntegerField("学分")
    issued_at = models.DateTimeField("签发时间")
    status = models.CharField(
        "状态", max_length=8, choices=CertificateStatus.choices, default=CertificateStatus.VALID
    )
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)
    revoke_reason = models.CharField("撤销原因", max_length=200, blank=True)

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = verbose_name_plural = "证书"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "year"],
                condition=models.Q(kind="year", status="valid"),
                name="one_valid_year_certificate",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="year") | models.Q(record__isnull=False),
                name="course_certificate_has_record",
            ),
        ]

    def __str__(self):
        return self.number

    @property
    def holder_masked(self):
        return mask_name(self.holder_name)

    @property
    def holder_closed(self):
        """The holder has closed the account: the record is sealed, the certificate stands."""
        return self.user.status == AccountStatus.CLOSED

    @property
    def is_valid(self):
        return self.status == CertificateStatus.VALID
