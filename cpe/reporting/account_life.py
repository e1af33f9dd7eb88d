"""reporting's part of the account's life (cpe.accounts.lifecycle): the AIS person check and the
credit reports in the data copy, the transfers to the AIS (rules R14.3), the pending-report
closing fact and the AIS person row on closing (rules R11). Registered by ReportingConfig.ready()."""

from cpe.accounts import lifecycle
from cpe.accounts.lifecycle import ClosingStep, Section, display
from cpe.core.models import AuditEvent

from .models import AisPerson, AisReport
from .states import ReportState

AIS_FIELD_LABELS = {
    "person_id": "AIS 人员编号",
    "id_number": "身份证号码",
    "name": "姓名",
    "year": "培训年度",
    "course_code": "课程编号",
    "course_title": "课程名称",
    "category": "类别",
    "hours": "学时",
    "credits": "学分",
    "passed_at": "考试合格时间",
}
AIS_PURPOSE_LABELS = {  # the transfer log's purpose codes, said to the learner
    "person_check": "核验您是否已纳入会计人员信息管理系统",
    "credit_report": "向会计人员信息管理系统上报您的继续教育学时",
}


def _ais_person(user):
    return AisPerson.objects.filter(user=user)


def _ais_reports(user):
    return AisReport.objects.filter(record__user=user).select_related("record").order_by("created_at", "id")


def _transfers(user) -> list[dict]:
    """The AIS transfer log (audit events `privacy.transfer`, written by privacy_transfer_record)."""
    rows = []
    for e in AuditEvent.objects.filter(
        event_type="privacy.transfer", subject_type=user._meta.label_lower, subject_id=str(user.pk)
    ).order_by("seq"):
        fields = [AIS_FIELD_LABELS.get(f, f) for f in e.data.get("fields", [])]
        purpose = AIS_PURPOSE_LABELS.get(e.data.get("purpose"), e.data.get("purpose_text", ""))
        rows.append(
            {
                "接收方": e.data.get("recipient", ""),
                "目的": purpose,
                "提供的信息": "、".join(fields),
                "时间": lifecycle.fmt(e.at),
                "关联记录": "",
            }
        )
    return rows


def _ais_report_pending(user) -> bool:
    return AisReport.objects.filter(
        record__user=user,
        state__in=[
            ReportState.PENDING,
            ReportState.SENDING,
            ReportState.RETRYING,
            ReportState.WAITING_CREDIT,
        ],
    ).exists()


def _delete_ais_person(user, at) -> int:
    return AisPerson.objects.filter(user=user).delete()[0]


def register() -> None:
    lifecycle.register_section(
        Section(
            "会计信息系统核验结果",
            _ais_person,
            order=20,
            models=("reporting.AisPerson",),
            columns=(
                ("AIS 人员编号", "person_id"),
                ("AIS 管理地区代码", "region_code"),
                ("AIS 人员状态", "status"),
                ("最近核验结果", display("last_result")),
                ("最近核验时间", "checked_at"),
                ("首次纳入时间", "found_at"),
            ),
        )
    )
    lifecycle.register_section(
        Section(
            "学时上报（会计信息系统）",
            _ais_reports,
            order=160,
            models=("reporting.AisReport",),
            columns=(
                ("类型", display("kind")),
                ("学时记录编号", "record.uid"),
                ("课程名称", "record.course_title"),
                ("状态", display("state")),
                ("回执号", "receipt_no"),
                ("撤销编号", "reversal_no"),
                ("创建时间", "created_at"),
                ("上报成功时间", "sent_at"),
            ),
        )
    )
    lifecycle.register_transfers("reporting.ais", _transfers, order=10)
    lifecycle.register_closing_fact("ais_report_pending", _ais_report_pending)
    # Reports stay with their credit records (pseudonymous once the account row is scrubbed);
    # closing is refused while one is pending (policy.closing_refusal).
    lifecycle.register_closing_step(
        ClosingStep(
            "ais_person",
            order=120,
            models=("reporting.AisPerson",),
            reason="deleted when the account is archived or anonymised (the AIS keeps its own copy); "
            "goes with the user row when it is deleted",
            scrub=_delete_ais_person,
        )
    )
