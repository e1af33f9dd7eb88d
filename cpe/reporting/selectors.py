"""Reads of the reporting app: the learner's report state per course and the reconciliation
of our ledger with what the AIS lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from cpe.core.ais_labels import REPORT_TONES
from cpe.core.rows import FixedQuery
from cpe.credits.models import CreditRecord

from . import policy
from .clients.base import AisClient, AisCredit
from .models import AisReport
from .states import ReportKind, ReportState

if TYPE_CHECKING:
    from cpe.accounts.models import User


class ReportStateView(NamedTuple):
    label: str  # 待上报 / 待上报（未纳入） / 已上报 / 上报失败 / 已撤回 ("" = nothing to show)
    receipt_no: str

    @property
    def tone(self) -> str:
        """The badge's CSS tone (badge-<tone>) of the label (core.ais_labels)."""

        return REPORT_TONES.get(self.label, "pending")


_report_rows_of = FixedQuery(  # compiled once per process (cpe.core.rows): the year page
    lambda user_id: AisReport.objects.filter(record__user_id=user_id).values_list(
        "record_id", "kind", "state", "receipt_no"
    ),
    user_id=int,
)


def report_states_for_user(user: User) -> dict[int, ReportStateView]:
    """{credit record id: (label, receipt_no)} for every record of the learner that has an
    outbox row. One query. A record without a row (not yet queued) is absent: show nothing."""
    credit: dict[int, tuple[str, str]] = {}
    reversal: dict[int, tuple[str, str]] = {}
    rows = _report_rows_of(user_id=user.pk)
    for record_id, kind, state, receipt_no in rows:
        (credit if kind == ReportKind.CREDIT else reversal)[record_id] = (state, receipt_no)
    out: dict[int, ReportStateView] = {}
    for record_id, (state, receipt_no) in credit.items():
        rev_state = reversal.get(record_id, (None, ""))[0]
        label = policy.learner_report_label(state, rev_state)
        out[record_id] = ReportStateView(label, receipt_no if state == ReportState.SENT else "")
    return out


# --- reconciliation ----------------------------------------------------------------------------
class Diff:
    MISSING_AT_AIS = "missing_at_ais"
    EXTRA_AT_AIS = "extra_at_ais"
    HOURS_MISMATCH = "hours_mismatch"
    REVERSED_MISMATCH = "reversed_mismatch"
    NOT_REVERSED_AT_AIS = "not_reversed_at_ais"

    LABELS = {
        MISSING_AT_AIS: "AIS 缺少该学时",
        EXTRA_AT_AIS: "AIS 多出该学时（本平台无对应记录）",
        HOURS_MISMATCH: "学时 / 学分不一致",
        REVERSED_MISMATCH: "AIS 已撤销，本平台仍有效",
        NOT_REVERSED_AT_AIS: "本平台已撤销，AIS 未撤销",
    }


@dataclass
class ReconRow:
    code: str
    receipt_no: str = ""
    course_code: str = ""
    course_title: str = ""
    ours: str = ""
    theirs: str = ""
    record_id: int | None = None

    @property
    def label(self) -> str:
        return Diff.LABELS[self.code]


@dataclass
class Reconciliation:
    person_id: str
    year: int
    ours: int = 0
    theirs: int = 0
    matched: int = 0
    diffs: list[ReconRow] = field(default_factory=list)
    pending: list = field(default_factory=list)  # our rows not yet sent: not a difference yet


def reconcile(
    *, ledger_rows: Iterable[dict[str, Any]], ais_items: Sequence[AisCredit], person_id: str, year: int
) -> Reconciliation:
    """Compare our ledger (ledger_rows: dicts with record_id, course_code, course_title, hours,
    credits, status, credit_state, receipt_no, reversal_state) with the AIS's list
    (clients.base.AisCredit) for one person and year; pure, so it is table-tested.

    - an active record whose report has a receipt must be at the AIS, recorded, same hours
      and credits;
    - a revoked record whose reversal was sent must be reversed at the AIS; one revoked but
      not reversed at the AIS (reversal not sent) is flagged too;
    - every AIS item must match one of our receipts (else extra at AIS);
    - records whose report has no receipt yet are listed as pending, not as differences."""
    result = Reconciliation(person_id=person_id, year=year, theirs=len(ais_items))
    by_receipt = {item.receipt_no: item for item in ais_items}
    seen: set[str] = set()
    for row in ledger_rows:
        result.ours += 1
        receipt = row["receipt_no"]
        if row["credit_state"] != ReportState.SENT or not receipt:
            if row["credit_state"] != ReportState.CANCELLED:
                result.pending.append(row)
            continue
        base = dict(
            receipt_no=receipt,
            course_code=row["course_code"],
            course_title=row["course_title"],
            record_id=row["record_id"],
        )
        item = by_receipt.get(receipt)
        if item is None:
            result.diffs.append(
                ReconRow(Diff.MISSING_AT_AIS, ours=f"{row['hours']} 学时", theirs="无", **base)
            )
            continue
        seen.add(receipt)
        ok = True
        if float(item.hours) != float(row["hours"]) or float(item.credits) != float(row["credits"]):
            ok = False
            result.diffs.append(
                ReconRow(
                    Diff.HOURS_MISMATCH,
                    ours=f"{row['hours']} 学时 / {row['credits']} 学分",
                    theirs=f"{item.hours} 学时 / {item.credits} 学分",
                    **base,
                )
            )
        revoked = row["status"] == "revoked"
        reversed_at_ais = item.status == "reversed"
        if reversed_at_ais and not revoked:
            ok = False
            result.diffs.append(ReconRow(Diff.REVERSED_MISMATCH, ours="有效", theirs="已撤销", **base))
        elif revoked and not reversed_at_ais:
            ok = False
            sent = row["reversal_state"] == ReportState.SENT
            result.diffs.append(
                ReconRow(
                    Diff.NOT_REVERSED_AT_AIS,
                    ours="已撤销" + ("（撤销已上报）" if sent else "（撤销未上报）"),
                    theirs="有效",
                    **base,
                )
            )
        if ok:
            result.matched += 1
    for item in ais_items:
        if item.receipt_no not in seen:
            result.diffs.append(
                ReconRow(
                    Diff.EXTRA_AT_AIS,
                    receipt_no=item.receipt_no,
                    course_code=item.course_code,
                    course_title=item.course_title,
                    ours="无",
                    theirs=f"{item.hours} 学时（{item.status}）",
                )
            )
    return result


def ledger_rows_for(user: User, year: int) -> list[dict]:
    """Our side of the reconciliation for one person and year (one query per table)."""

    records = list(
        CreditRecord.objects.filter(user=user, year__year=year)
        .order_by("passed_at")
        .values("id", "course_code", "course_title", "hours", "credits", "status")
    )
    reports: dict[tuple[int, str], tuple[str, str]] = {}
    for record_id, kind, state, receipt in AisReport.objects.filter(
        record_id__in=[r["id"] for r in records]
    ).values_list("record_id", "kind", "state", "receipt_no"):
        reports[(record_id, kind)] = (state, receipt)
    rows: list[dict] = []
    for r in records:
        credit_state, receipt = reports.get((r["id"], ReportKind.CREDIT), ("", ""))
        rows.append(
            {
                "record_id": r["id"],
                "course_code": r["course_code"],
                "course_title": r["course_title"],
                "hours": r["hours"],
                "credits": r["credits"],
                "status": r["status"],
                "credit_state": credit_state,
                "receipt_no": receipt,
                "reversal_state": reports.get((r["id"], ReportKind.REVERSAL), ("", ""))[0],
            }
        )
    return rows


def reconcile_person_year(*, user: User, year: int, client: AisClient | None = None) -> Reconciliation:
    """Ask the AIS what it holds for the person and year and compare (raises the client's
    errors: AisUnavailable / AisRejected, for the page to show)."""
    from .clients import get_client
    from .models import AisPerson

    person = AisPerson.objects.filter(user=user).first()
    if person is None or not person.person_id:
        from .errors import ReportingError

        raise ReportingError("no_person", "该学员尚未在 AIS 中核验到人员编号，无法对账。")
    client = client or get_client()
    items = client.list_credits(person_id=person.person_id, year=year)
    return reconcile(
        ledger_rows=ledger_rows_for(user, year), ais_items=items, person_id=person.person_id, year=year
    )


def acknowledged(record_ids: Iterable[int]) -> dict[int, datetime | None]:
    """{credit record id: sent_at} of the records whose credit report the AIS acknowledged
    (state sent, with a receipt) and whose reversal it has not (one query). What a certificate
    may call 已上报."""
    rows = AisReport.objects.filter(record_id__in=list(record_ids)).values_list(
        "record_id", "kind", "state", "sent_at"
    )
    sent: dict[int, datetime | None] = {}
    reversed_: set[int] = set()
    for record_id, kind, state, sent_at in rows:
        if state != ReportState.SENT:
            continue
        if kind == ReportKind.CREDIT:
            sent[record_id] = sent_at
        else:
            reversed_.add(record_id)
    return {k: v for k, v in sent.items() if k not in reversed_}
