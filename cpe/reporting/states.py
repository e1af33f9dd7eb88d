from django.db import models

from cpe.core import ais_labels as labels


class CheckResult(models.TextChoices):
    """The outcome of the latest AIS person check (the User's ais_status keeps the last
    definitive answer; see services.ais_person_check)."""

    FOUND = "found", labels.PERSON_FOUND
    NOT_FOUND = "not_found", labels.PERSON_NOT_FOUND
    FAILED = "failed", labels.PERSON_FAILED


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

    # Labels: labels.REPORT_STATE_LABELS (the same words the learner reads).
    WAITING_PERSON = "waiting_person", labels.REPORT_STATE_LABELS["waiting_person"]
    WAITING_CREDIT = "waiting_credit", labels.REPORT_STATE_LABELS["waiting_credit"]
    PENDING = "pending", labels.REPORT_STATE_LABELS["pending"]
    SENDING = "sending", labels.REPORT_STATE_LABELS["sending"]
    RETRYING = "retrying", labels.REPORT_STATE_LABELS["retrying"]
    SENT = "sent", labels.REPORT_STATE_LABELS["sent"]
    FAILED = "failed", labels.REPORT_STATE_LABELS["failed"]
    CANCELLED = "cancelled", labels.REPORT_STATE_LABELS["cancelled"]


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
