from django.conf import settings
from django.db import models

from .states import CheckResult, Purpose


class AisPerson(models.Model):
    """What the AIS said about a learner: its person_id (needed to report credits) and the
    latest check. One row per user; the User's ais_status/ais_checked_at are kept in step."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ais_person",
                                verbose_name="用户")
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
