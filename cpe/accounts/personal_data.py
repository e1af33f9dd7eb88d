""""下载我的个人信息" (rules R14, 个人信息保护法 Art. 45): everything the platform holds about one
learner, as a ZIP of a machine-readable JSON copy and a human-readable HTML page.

Three layers, in this order:
- SECTIONS: what is exported, one `Section` per kind of record, each a read-only query on the
  owning app's models (filtered by the learner, never anyone else) and its columns;
- personal_data_collect / personal_data_build: read the sections into one ordered structure
  (Chinese keys, display values) and render it as JSON + HTML in a ZIP held in memory;
- personal_data_export: the one write — re-check the password, build, append the audit event.

What never goes into the file is policy (policy.PERSONAL_DATA_FORBIDDEN_ATTRS): a column that
names a forbidden attribute fails at import, before any learner could download it.
"""
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable

from django.template.loader import render_to_string
from django.utils import timezone

from cpe.core.audit import audit_record
from cpe.core.money import fen_to_yuan

from . import policy
from .errors import AccountError

JSON_NAME = "个人信息.json"
HTML_NAME = "个人信息.html"
SCHEMA_VERSION = 1


# --- values --------------------------------------------------------------------------------------
def _fmt(value: Any) -> Any:
    """One display value: local time to the second, 是/否, "" for nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def _get(obj, spec: "str | Callable") -> Any:
    if callable(spec):
        return spec(obj)
    for part in spec.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _yuan(attr: str) -> Callable:
    return lambda o: fen_to_yuan(getattr(o, attr))


def _display(attr: str) -> Callable:
    return lambda o: getattr(o, f"get_{attr}_display")()


def _seconds(attr: str) -> Callable:
    return lambda o: round(getattr(o, attr) or 0)


@dataclass(frozen=True)
class Section:
    key: str                    # the JSON key and the HTML heading
    rows: Callable              # user -> iterable of objects (read-only, the learner's own)
    columns: tuple              # (label, attribute path or callable)
    single: bool = False        # one object shown as label/value pairs (the account)
    note: str = ""

    def __post_init__(self):
        for label, spec in self.columns:
            if isinstance(spec, str) and set(spec.split(".")) & policy.PERSONAL_DATA_FORBIDDEN_ATTRS:
                raise ValueError(f"{self.key}/{label}: {spec} must never be exported (accounts.policy)")


# --- the sections: read-only queries on each app's models ---------------------------------------
def _account(user):
    return [user]


def _ais_person(user):
    from cpe.reporting.models import AisPerson

    return AisPerson.objects.filter(user=user)


def _agreements(user):
    from cpe.agreements.models import AgreementAcceptance

    return AgreementAcceptance.objects.filter(user=user).select_related("version").order_by("at", "id")


def _logins(user):
    from .models import LoginRecord

    return LoginRecord.objects.filter(user=user).order_by("at", "id")


def _orders(user):
    from cpe.orders.models import Order

    return Order.objects.filter(user=user).select_related("product").order_by("created_at", "id")


def _refunds(user):
    from cpe.orders.models import Refund

    return Refund.objects.filter(order__user=user).select_related("order").order_by("requested_at", "id")


def _invoices(user):
    from cpe.invoicing.models import Invoice

    return Invoice.objects.filter(order__user=user).select_related("order").order_by("issued_at", "id")


def _enrolments(user):
    from cpe.learning.models import Enrolment

    return (Enrolment.objects.filter(user=user).select_related("product", "order", "year")
            .order_by("valid_from", "id"))


def _progress(user):
    from cpe.learning.models import ChapterProgress

    return (ChapterProgress.objects.filter(user=user).select_related("chapter__course")
            .order_by("chapter__course__code", "chapter__position"))


def _play_sessions(user):
    from cpe.learning.models import PlaySession

    return (PlaySession.objects.filter(user=user).select_related("chapter__course")
            .order_by("started_at", "id"))


def _suspicious(user):
    from cpe.learning.models import SuspiciousEvent

    return (SuspiciousEvent.objects.filter(user=user).select_related("chapter__course")
            .order_by("at", "id"))


def _support_messages(user):
    from cpe.support.models import Message

    return (Message.objects.filter(thread__user=user).select_related("thread")
            .order_by("thread__created_at", "thread_id", "created_at", "id"))


def _attempts(user):
    from cpe.exams.models import Attempt

    return Attempt.objects.filter(user=user).select_related("course").order_by("started_at", "id")


def _credits(user):
    from cpe.credits.models import CreditRecord

    return CreditRecord.objects.filter(user=user).select_related("year").order_by("passed_at", "id")


def _certificates(user):
    from cpe.credits.models import Certificate

    return Certificate.objects.filter(user=user).select_related("year").order_by("issued_at", "id")


def _ais_reports(user):
    from cpe.reporting.models import AisReport

    return AisReport.objects.filter(record__user=user).select_related("record").order_by("created_at", "id")


def _identity_changes(user):
    from .models import IdentityChangeRequest

    return IdentityChangeRequest.objects.filter(user=user).order_by("created_at", "id")


def _sanctions(user):
    """Bans of the account and its termination (rules R12), oldest first; what the learner was told
    (reason, period, lifting), never the staff's internal notes or names."""
    from types import SimpleNamespace

    from cpe.moderation.models import Ban
    from cpe.moderation.policy import termination_reason_text
    from cpe.moderation.states import BanKind

    from .states import AccountStatus

    rows = [SimpleNamespace(kind="账号封禁", reason=b.reason, starts_at=b.starts_at,
                            ends_at=b.ends_at or "直至平台解除", lifted_at=b.lifted_at)
            for b in Ban.objects.filter(user=user, kind=BanKind.ACCOUNT).order_by("starts_at", "id")]
    if user.status == AccountStatus.TERMINATED:
        rows.append(SimpleNamespace(
            kind="终止服务", reason=termination_reason_text(reason=user.status_reason, note=user.status_note),
            starts_at=user.status_changed_at, ends_at=None, lifted_at=None))
    return rows


def _messages(user):
    from cpe.notices.models import OutboundMessage

    return OutboundMessage.objects.filter(user=user).order_by("created_at", "id")


# What each notification was about (the event code is kept in the copy too, for machines).
MESSAGE_EVENT_LABELS = {
    "code.register": "注册验证码", "code.change_mobile": "更换手机号码验证码",
    "code.verify_email": "邮箱验证", "code.reset_password": "找回密码验证码",
    "email.verify": "邮箱验证链接", "account.hold": "资料待更正通知", "account.terminated": "终止服务通知",
    "account.restored": "恢复服务通知", "account.banned": "账号封禁通知", "code.sanctioned_copy": "下载个人信息验证码",
    "order.paid": "支付成功通知", "order.closed": "订单关闭通知",
    "refund.requested": "退款申请通知", "refund.approved": "退款审核通过通知",
    "refund.rejected": "退款申请未通过通知", "refund.succeeded": "退款成功通知", "refund.failed": "退款失败通知",
    "invoice.ready": "电子发票开具通知", "invoice.reversed": "电子发票红冲通知",
    "exam.graded": "考试成绩通知", "credit.recorded": "学时记载通知", "certificate.issued": "证书签发通知",
}


def _event_label(msg) -> str:
    if msg.event.startswith("enrolment.expiry_"):
        return "课程到期提醒"
    return MESSAGE_EVENT_LABELS.get(msg.event, msg.event)


SECTIONS = (
    Section("账户信息", _account, single=True, columns=(
        ("姓名", "name"), ("身份证号码", "id_number"), ("手机号码", "mobile"),
        ("手机验证时间", "mobile_verified_at"), ("电子邮箱", "email"), ("邮箱验证时间", "email_verified_at"),
        ("工作单位", "employer"), ("会计人员信息管理地区", _display("region")),
        ("注册时间", "date_joined"), ("账号状态", _display("status")),
        ("终止原因", _display("status_reason")), ("状态变更时间", "status_changed_at"),
        ("待更正原因", "correction_reason"), ("待更正设置时间", "correction_set_at"),
        ("16-17 周岁自立声明", "self_supporting"), ("未成年审核", _display("minor_review")),
        ("会计信息系统（AIS）状态", _display("ais_status")), ("AIS 核验时间", "ais_checked_at"),
    )),
    Section("会计信息系统核验结果", _ais_person, columns=(
        ("AIS 人员编号", "person_id"), ("AIS 管理地区代码", "region_code"), ("AIS 人员状态", "status"),
        ("最近核验结果", _display("last_result")), ("最近核验时间", "checked_at"),
        ("首次纳入时间", "found_at"),
    )),
    Section("协议同意记录", _agreements, columns=(
        ("协议版本", "version.version"), ("协议标题", "version.title"), ("决定", _display("decision")),
        ("时间", "at"), ("IP", "ip"), ("浏览器", "user_agent"),
    )),
    Section("登录记录", _logins, columns=(
        ("时间", "at"), ("IP", "ip"), ("设备", "user_agent"), ("新设备", "is_new_device"),
        ("结束了其他登录", "ended_other_session"), ("登录被拒绝（封禁中）", "refused"),
    )),
    Section("封禁与终止服务记录", _sanctions, note="平台对您的账号采取的封禁和终止服务措施及告知您的原因。", columns=(
        ("措施", "kind"), ("原因", "reason"), ("开始时间", "starts_at"), ("结束时间", "ends_at"),
        ("解除时间", "lifted_at"),
    )),
    Section("订单", _orders, columns=(
        ("订单号", "number"), ("商品", "subject"), ("金额（元）", _yuan("amount_fen")),
        ("状态", _display("status")), ("下单时间", "created_at"), ("支付时间", "paid_at"),
        ("有效期（天）", "validity_days"), ("支付方式", _display("gateway")), ("支付渠道", _display("channel")),
        ("支付流水号", "gateway_txn_id"), ("关闭时间", "closed_at"), ("关闭原因", "close_reason"),
    )),
    Section("退款", _refunds, columns=(
        ("退款单号", "refund_no"), ("订单号", "order.number"), ("退款金额（元）", _yuan("amount_fen")),
        ("退款原因", "reason"), ("状态", _display("status")), ("申请时间", "requested_at"),
        ("审核时间", "decided_at"), ("审核意见", "decision_note"), ("退款时间", "refunded_at"),
    )),
    Section("发票", _invoices, columns=(
        ("发票号码", "number"), ("订单号", "order.number"), ("发票类型", _display("kind")),
        ("抬头类型", _display("buyer_type")), ("发票抬头", "buyer_name"), ("纳税人识别号", "taxpayer_id"),
        ("项目名称", "item_name"), ("价税合计（元）", _yuan("total_fen")), ("状态", _display("status")),
        ("开票时间", "issued_at"), ("红冲时间", "reversed_at"),
    )),
    Section("课程学习（选课）", _enrolments, columns=(
        ("商品", "product.title"), ("培训年度", "year.year"), ("订单号", "order.number"),
        ("生效时间", "valid_from"), ("到期时间", "valid_until"), ("状态", _display("status")),
    )),
    Section("章节学习进度", _progress, columns=(
        ("课程", "chapter.course.title"), ("章节", "chapter.title"), ("已计时（秒）", _seconds("watched_seconds")),
        ("最远位置（秒）", _seconds("furthest_position")), ("已完成", lambda p: p.completed_at is not None),
        ("完成时间", "completed_at"), ("更新时间", "updated_at"),
    )),
    Section("播放记录", _play_sessions, columns=(
        ("课程", "chapter.course.title"), ("章节", "chapter.title"), ("开始时间", "started_at"),
        ("结束时间", "ended_at"), ("被其他播放器取代时间", "superseded_at"), ("最后心跳时间", "last_at"),
        ("本次计时（秒）", _seconds("credited_seconds")), ("IP", "ip"), ("设备", "user_agent"),
    )),
    Section("学习异常记录", _suspicious, note="系统为防止挂机、拖动或多处同时播放而记录的情况。", columns=(
        ("课程", "chapter.course.title"), ("章节", "chapter.title"), ("类型", _display("kind")),
        ("时间", "at"), ("IP", "ip"),
    )),
    Section("考试记录", _attempts, columns=(
        ("课程", "course.title"), ("第几次", "number"), ("状态", _display("status")),
        ("开始时间", "started_at"), ("交卷时间", "submitted_at"), ("得分", "score"), ("合格分", "pass_mark"),
        ("合格", "passed"),
    )),
    Section("学时记录", _credits, columns=(
        ("记录编号", "uid"), ("培训年度", "year.year"), ("课程编号", "course_code"), ("课程名称", "course_title"),
        ("类别", _display("category")), ("学时", "hours"), ("学分", "credits"), ("考试成绩", "score"),
        ("考试合格时间", "passed_at"), ("状态", _display("status")), ("撤销时间", "revoked_at"),
        ("撤销原因", "revoke_reason"),
    )),
    Section("证书", _certificates, columns=(
        ("证书编号（查验编号）", "number"), ("类型", _display("kind")), ("培训年度", "year.year"),
        ("姓名", "holder_name"), ("内容", "title"), ("学时", "hours"), ("学分", "credits"),
        ("签发时间", "issued_at"), ("状态", _display("status")), ("撤销时间", "revoked_at"),
        ("撤销原因", "revoke_reason"),
    )),
    Section("学时上报（会计信息系统）", _ais_reports, columns=(
        ("类型", _display("kind")), ("学时记录编号", "record.uid"), ("课程名称", "record.course_title"),
        ("状态", _display("state")), ("回执号", "receipt_no"), ("撤销编号", "reversal_no"),
        ("创建时间", "created_at"), ("上报成功时间", "sent_at"),
    )),
    Section("身份信息变更申请", _identity_changes, columns=(
        ("变更项", _display("field")), ("新值", "new_value"), ("申请理由", "reason"),
        ("状态", _display("status")), ("申请时间", "created_at"), ("审核时间", "decided_at"),
        ("审核意见", "decision_note"),
    )),
    Section("在线提问", _support_messages, columns=(
        ("问题", "thread.title"), ("状态", lambda m: m.thread.get_status_display()), ("提问时间", "thread.created_at"),
        # The thread as the learner sees it on its page ("body" is barred by name because the
        # outbox's bodies hold codes; these are the learner's own question and the answers to it).
        ("发言", lambda m: "客服" if m.from_staff else "本人"), ("内容", lambda m: m.body), ("时间", "created_at"),
    )),
    Section("发送给您的通知", _messages, note="仅列出通知的类型、渠道与时间，不含验证码等内容。", columns=(
        ("类型", _event_label), ("事件代码", "event"), ("渠道", _display("channel")), ("收件人", "to_masked"),
        ("状态", _display("status")), ("创建时间", "created_at"), ("发送时间", "sent_at"),
    )),
)

# --- transfers to third parties (rules R14.3) ---------------------------------------------------
TRANSFERS_KEY = "向第三方提供的个人信息"
TRANSFER_COLUMNS = ("接收方", "目的", "提供的信息", "时间", "关联记录")
AIS_FIELD_LABELS = {
    "person_id": "AIS 人员编号", "id_number": "身份证号码", "name": "姓名", "year": "培训年度",
    "course_code": "课程编号", "course_title": "课程名称", "category": "类别", "hours": "学时",
    "credits": "学分", "passed_at": "考试合格时间",
}
AIS_PURPOSE_LABELS = {   # the transfer log's purpose codes, said to the learner
    "person_check": "核验您是否已纳入会计人员信息管理系统",
    "credit_report": "向会计人员信息管理系统上报您的继续教育学时",
}
INVOICE_RECIPIENT = "电子发票服务平台（税务机关数电票服务）"
INVOICE_FIELDS = "发票抬头、纳税人识别号（如有）、项目名称、金额"
PAYMENT_FIELDS = "订单号、商品名称、金额"


def _transfers(user) -> list[dict]:
    """The transfers the data shows: the AIS transfer log (audit events `privacy.transfer`),
    the payment gateway of every paid order and the e-invoice service of every invoice."""
    from cpe.core.models import AuditEvent
    from cpe.invoicing.models import Invoice
    from cpe.orders.models import Order

    rows = []
    for e in AuditEvent.objects.filter(event_type="privacy.transfer", subject_type=user._meta.label_lower,
                                       subject_id=str(user.pk)).order_by("seq"):
        fields = [AIS_FIELD_LABELS.get(f, f) for f in e.data.get("fields", [])]
        purpose = AIS_PURPOSE_LABELS.get(e.data.get("purpose"), e.data.get("purpose_text", ""))
        rows.append({"接收方": e.data.get("recipient", ""), "目的": purpose,
                     "提供的信息": "、".join(fields), "时间": _fmt(e.at), "关联记录": ""})
    for o in Order.objects.filter(user=user, paid_at__isnull=False).order_by("paid_at", "id"):
        rows.append({"接收方": o.get_gateway_display() or "支付机构", "目的": "完成订单支付（及退款）",
                     "提供的信息": PAYMENT_FIELDS, "时间": _fmt(o.paid_at), "关联记录": f"订单 {o.number}"})
    for inv in Invoice.objects.filter(order__user=user).select_related("order").order_by("issued_at", "id"):
        rows.append({"接收方": INVOICE_RECIPIENT, "目的": "开具电子发票",
                     "提供的信息": INVOICE_FIELDS, "时间": _fmt(inv.issued_at),
                     "关联记录": f"发票 {inv.number}（订单 {inv.order.number}）"})
    rows.sort(key=lambda r: r["时间"])
    return rows


# --- reading and rendering ----------------------------------------------------------------------
def personal_data_collect(user, *, at: datetime) -> dict:
    """Everything held about `user`, as {section: rows}; the account is one {label: value}.
    Read-only (the heartbeat's write-behind is flushed first, so progress is current)."""
    from cpe.learning.services import progress_flush

    progress_flush(user.pk)
    data: dict[str, Any] = {
        "说明": "本文件是您在内蒙古会计人员继续教育平台上的个人信息副本（《个人信息保护法》第四十五条）。",
        "导出时间": _fmt(at),
        "格式版本": SCHEMA_VERSION,
    }
    for section in SECTIONS:
        rows = [{label: _fmt(_get(obj, spec)) for label, spec in section.columns}
                for obj in section.rows(user)]
        data[section.key] = (rows[0] if rows else {}) if section.single else rows
    data[TRANSFERS_KEY] = _transfers(user)
    data["不包含的信息"] = list(policy.PERSONAL_DATA_NOT_EXPORTED)
    return data


def personal_data_html(data: dict) -> str:
    """A self-contained page (inline style, no scripts, no links out) with the same content."""
    sections = []
    for section in SECTIONS:
        labels = [label for label, _ in section.columns]
        sections.append({"title": section.key, "single": section.single, "labels": labels,
                         "note": section.note,
                         "rows": data[section.key] if not section.single else None,
                         "pairs": list(data[section.key].items()) if section.single else None})
    sections.append({"title": TRANSFERS_KEY, "single": False, "labels": list(TRANSFER_COLUMNS),
                     "rows": data[TRANSFERS_KEY],
                     "note": "平台仅为各接收方的处理目的向其提供个人信息，每次向会计信息系统提供均有记录。"})
    for s in sections:
        if s["rows"] is not None:
            s["cells"] = [[row.get(label, "") for label in s["labels"]] for row in s["rows"]]
    return render_to_string("accounts/personal_data_file.html", {
        "data": data, "sections": sections, "not_exported": data["不包含的信息"]})


def personal_data_build(user, *, at: datetime) -> bytes:
    """The ZIP (in memory): 个人信息.json and 个人信息.html."""
    data = personal_data_collect(user, at=at)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        stamp = timezone.localtime(at).timetuple()[:6]
        for name, text in ((JSON_NAME, json.dumps(data, ensure_ascii=False, indent=2)),
                           (HTML_NAME, personal_data_html(data))):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


# --- the service --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PersonalDataFile:
    filename: str
    ascii_filename: str
    content: bytes


def personal_data_export(*, user, password: str, ip: str | None = None, at: datetime | None = None
                         ) -> PersonalDataFile:
    """Re-authenticate, build the file, record the export in the audit log (who, when, IP; no
    personal data in the event). A wrong password raises AccountError and records nothing."""
    at = at or timezone.now()
    if not user.is_active or user.is_staff or not password or not user.check_password(password):
        raise AccountError("wrong_password", "密码不正确，未生成文件。请重新输入您的登录密码。", field="password")
    content = personal_data_build(user, at=at)
    name, ascii_name = policy.personal_data_filenames(at)
    audit_record("account.personal_data_exported", actor=user, subject=user, ip=ip, at=at,
                 data={"format": "zip", "bytes": len(content)})
    return PersonalDataFile(name, ascii_name, content)
