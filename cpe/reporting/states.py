from django.db import models


class CheckResult(models.TextChoices):
    """The outcome of the latest AIS person check (the User's ais_status keeps the last
    definitive answer; see services.ais_person_check)."""

    FOUND = "found", "已纳入"
    NOT_FOUND = "not_found", "未纳入"
    FAILED = "failed", "核验失败"


class Purpose(models.TextChoices):
    LOOKUP = "lookup", "人员核验"
    REPORT = "report", "学时上报"
    REVERSAL = "reversal", "上报撤销"
    LIST = "list", "对账查询"
