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


class ReportKind(models.TextChoices):
    CREDIT = "credit", "学时上报"
    REVERSAL = "reversal", "撤销上报"


class ReportState(models.TextChoices):
    """An outbox row's state (see TRANSITIONS). `sending` is a claim with a lease: a worker
    killed mid-send leaves the row there and the sweep takes it back when the lease ends."""

    WAITING_PERSON = "waiting_person", "待纳入（人员未纳入 AIS）"
    WAITING_CREDIT = "waiting_credit", "待学时上报回执"
    PENDING = "pending", "待发送"
    SENDING = "sending", "发送中"
    RETRYING = "retrying", "等待重试"
    SENT = "sent", "已上报"
    FAILED = "failed", "上报失败"
    CANCELLED = "cancelled", "已取消"


TRANSITIONS = {
    ReportState.WAITING_PERSON: {ReportState.PENDING, ReportState.CANCELLED},
    ReportState.WAITING_CREDIT: {ReportState.PENDING, ReportState.CANCELLED},
    ReportState.PENDING: {ReportState.SENDING, ReportState.CANCELLED},
    ReportState.SENDING: {ReportState.SENT, ReportState.RETRYING, ReportState.FAILED},
    ReportState.RETRYING: {ReportState.SENDING, ReportState.PENDING},
    ReportState.FAILED: {ReportState.PENDING, ReportState.CANCELLED},
    ReportState.SENT: set(),
    ReportState.CANCELLED: set(),
}


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "生成中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"
    EXPIRED = "expired", "已过期"
