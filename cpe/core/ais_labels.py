"""The one vocabulary of the AIS (《内蒙古自治区会计人员信息管理系统》) on every page: the
purchase page, the dashboard, 我的学时, certificates and the staff site all take their words
from here, so a learner and the operator who answers their call say the same thing.

Two things have a status:
- the PERSON (is the learner in the AIS?): 未核验 / 已纳入 / 未纳入 / 核验失败;
- a CREDIT RECORD's report: 待上报 / 已上报 / 上报失败 / 已撤回, where 待上报 is qualified when
  the reason matters (待上报（未纳入）: the person is not in the AIS, nothing can be sent yet).
The staff queue shows the outbox's finer states as the same words with the detail in brackets
(待上报（等待重试）), never a second vocabulary. It sits in core because accounts (the person's
status), credits, orders and reporting all show it (docs/architecture.md)."""

AIS_NAME = "《内蒙古自治区会计人员信息管理系统》"

# --- the person (accounts.states.AisStatus values) ---------------------------------------------
PERSON_UNKNOWN = "未核验"
PERSON_FOUND = "已纳入"
PERSON_NOT_FOUND = "未纳入"
PERSON_FAILED = "核验失败"

PERSON_EXPLANATIONS = {
    "unknown": f"尚未核验您是否已纳入{AIS_NAME}。核验完成前取得的学时会保留，状态为“待上报”。",
    "found": f"您已纳入{AIS_NAME}，考试合格后的学时将上报该系统（状态：待上报 → 已上报）。",
    "not_found": f"您尚未纳入{AIS_NAME}：在本平台取得的学时会保留，但在您纳入该系统之前无法上报，"
    "不能记入会计人员继续教育档案（状态：待上报（未纳入））。请向所在地财政部门办理纳入手续，"
    "纳入后平台将自动上报。",
    "failed": f"暂时无法连接{AIS_NAME}核验您的信息，平台将稍后自动重试。",
}

# --- a credit record's report --------------------------------------------------------------------
REPORT_PENDING = "待上报"
REPORT_WAITING_PERSON = "待上报（未纳入）"
REPORT_SENT = "已上报"
REPORT_FAILED = "上报失败"
REPORT_REVERSED = "已撤回"

# reporting.states.ReportState values → what staff read in the queue (same words as above).
REPORT_STATE_LABELS = {
    "waiting_person": REPORT_WAITING_PERSON,
    "waiting_credit": "待上报（等待学时回执）",
    "pending": "待上报（待发送）",
    "sending": "待上报（发送中）",
    "retrying": "待上报（等待重试）",
    "sent": REPORT_SENT,
    "failed": REPORT_FAILED,
    "cancelled": "不上报（已取消）",
}

# Badge tone of each learner word (CSS class badge-<tone>).
REPORT_TONES = {
    REPORT_SENT: "found",
    REPORT_FAILED: "failed",
    REPORT_REVERSED: "closed",
    REPORT_PENDING: "pending",
    REPORT_WAITING_PERSON: "not_found",
}
