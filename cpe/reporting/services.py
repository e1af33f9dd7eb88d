"""Every write of the reporting app. The AIS is called outside any transaction; what it said
is then applied under a row lock, audited, in one transaction."""

import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone

from cpe.accounts.models import User
from cpe.accounts.states import AccountStatus, AisStatus
from cpe.core import storage as stores
from cpe.core.audit import audit_record
from cpe.core.masking import mask_id_number
from cpe.core.models import AuditEvent, AuditHead
from cpe.credits.models import CreditRecord, RecordStatus

from . import policy
from .clients import get_client
from .clients.base import AisClient, AisError, AisRejected, AisUnavailable, ReportReceipt, ReversalReceipt
from .errors import ReportingError
from .models import AisExchange, AisPerson, AisReport, ExportJob
from .states import CheckResult, ExportStatus, ReportKind, ReportState

log = logging.getLogger(__name__)

AIS_RECIPIENT = "内蒙古自治区会计人员信息管理系统（AIS）"
# The purpose written into each privacy.transfer audit event (rules R14.3): the person check of
# rules R1.9 and the credit report of rules R9.1.
TRANSFER_PURPOSES = {
    "person_check": "核验是否已纳入会计人员信息管理系统",
    "credit_report": "向会计人员信息管理系统上报继续教育学时",
}
REPORT_FIELDS = [
    "person_id",
    "id_number",
    "name",
    "year",
    "course_code",
    "course_title",
    "category",
    "hours",
    "credits",
    "passed_at",
]


def ais_exchange_record(
    *,
    at: datetime,
    method: str,
    path: str,
    purpose: str = "",
    attempt: int = 1,
    status: int | None = None,
    duration_ms: int = 0,
    request_body: Any = None,
    answer_body: Any = None,
    error: str = "",
    idempotency_key: str = "",
) -> AisExchange:
    """Store one attempt (bodies already masked by the adapter). A savepoint: a failure here
    cannot poison the caller's transaction."""
    with transaction.atomic():
        return AisExchange.objects.create(
            at=at,
            method=method,
            path=path[:300],
            purpose=purpose,
            attempt=attempt,
            status=status,
            duration_ms=duration_ms,
            request_body=request_body,
            answer_body=answer_body,
            error=(error or "")[:400],
            idempotency_key=(idempotency_key or "")[:128],
        )


def privacy_transfer_record(
    *,
    user: User,
    purpose: str,
    fields: list[str],
    outcome: str,
    actor: User | None = None,
    ip: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """rules R14: personal data goes to the AIS only for its purpose, and each transfer is logged."""
    return audit_record(
        "privacy.transfer",
        actor=actor,
        subject=user,
        ip=ip,
        at=at,
        data={
            "recipient": AIS_RECIPIENT,
            "purpose": purpose,
            "purpose_text": TRANSFER_PURPOSES.get(purpose, purpose),
            "fields": fields,
            "id_number": mask_id_number(user.id_number),
            "outcome": outcome,
        },
    )


def ais_person_check(
    *,
    user_id: int,
    at: datetime | None = None,
    actor: User | None = None,
    ip: str | None = None,
    client: AisClient | None = None,
) -> AisPerson:
    """Look the learner up in the AIS by ID number and name (rules R1.9) and record the answer:
    the AisPerson row (person_id, region, the AIS's own status), the account's ais_status
    (policy.status_after_check) and ais_checked_at, an audit event and the transfer log entry.

    Refused (ReportingError, nothing changed): staff accounts, accounts without an ID number,
    closed or terminated accounts, and an identity changed while the AIS was answering."""
    at = at or timezone.now()
    user = User.objects.filter(pk=user_id).first()
    if user is None or user.is_staff or not user.id_number:
        raise ReportingError("not_checkable", "该账号无需核验会计人员信息。")
    if user.status != AccountStatus.ACTIVE:
        raise ReportingError("account_inactive", "该账号已停止服务，不再核验。")
    asked = (user.id_number_bidx, user.name)

    client = client or get_client()
    lookup, error = None, ""
    try:
        lookup = client.lookup_person(id_number=user.id_number, name=user.name)
        result = CheckResult.FOUND if lookup.found else CheckResult.NOT_FOUND
    except AisUnavailable as exc:
        result, error = CheckResult.FAILED, str(exc)
    except AisRejected as exc:
        # 400/401: our request or our credentials are wrong: operators must see it.
        log.error("AIS refused a person lookup for user %s: %s %s", user_id, exc.status, exc)
        result, error = CheckResult.FAILED, f"{exc.status} {exc.code}: {exc}"

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if (user.id_number_bidx, user.name) != asked:
            raise ReportingError("identity_changed", "核验期间身份信息发生变更，请重新核验。")
        person, _ = AisPerson.objects.select_for_update().get_or_create(user=user)
        old_status = user.ais_status
        new_status = policy.status_after_check(old_status, result)
        # ais_checked_at: when the status shown was established (a failure that keeps an
        # earlier answer leaves it alone; AisPerson.checked_at has every attempt).
        if result != CheckResult.FAILED or new_status == AisStatus.FAILED:
            user.ais_status, user.ais_checked_at = new_status, at
            user.save(update_fields=["ais_status", "ais_checked_at"])
        old_person_id = person.person_id
        if lookup is not None and lookup.found:
            person.person_id, person.region_code, person.status = (
                lookup.person_id,
                lookup.region_code,
                lookup.status,
            )
            person.found_at = person.found_at or at
        elif lookup is not None:
            person.status = ""  # not found: the old person_id stays for history
        person.last_result, person.last_error, person.checked_at = result, error[:300], at
        person.save()
        audit_record(
            "ais.person_checked",
            actor=actor,
            subject=user,
            ip=ip,
            at=at,
            data={
                "result": result.value,
                "old_status": old_status,
                "new_status": new_status.value,
                "person_id": person.person_id,
                "old_person_id": old_person_id,
                "error": error[:200],
            },
        )
        privacy_transfer_record(
            user=user,
            purpose="person_check",
            fields=["id_number", "name"],
            outcome=result.value,
            actor=actor,
            ip=ip,
            at=at,
        )
        # Credits kept while the person was not found are reported once they are found
        # (rules R9.3): their waiting outbox rows get their bodies and are sent after commit.
        if new_status == AisStatus.FOUND and person.person_id:
            reports_release_for_user(user=user, person=person, at=at)
    return person


def ais_check_after_registration(user: User) -> None:
    """Queue the AIS check of a newly registered learner once the registration commits (safe
    to call inside or outside the registration transaction)."""
    from .tasks import ais_person_check_task

    user_id = user.pk
    transaction.on_commit(lambda: ais_person_check_task.delay(user_id))


def ais_recheck_sweep(*, at: datetime | None = None, limit: int = 500) -> int:
    """Queue checks for accounts that need one again (policy.recheck_due, in SQL): never
    checked, failed more than an hour ago, not found more than a week ago. Returns how many."""
    from django.db.models import Q

    from .tasks import ais_person_check_task

    at = at or timezone.now()
    due = (
        Q(ais_status=AisStatus.UNKNOWN)
        & (Q(ais_checked_at__isnull=True) | Q(ais_checked_at__lte=at - policy.RECHECK_UNKNOWN_AFTER))
        | Q(ais_status=AisStatus.FAILED)
        & (Q(ais_checked_at__isnull=True) | Q(ais_checked_at__lte=at - policy.RECHECK_FAILED_AFTER))
        | Q(ais_status=AisStatus.NOT_FOUND, ais_checked_at__lte=at - policy.RECHECK_NOT_FOUND_AFTER)
    )
    ids = list(
        User.objects.filter(due, is_staff=False, status=AccountStatus.ACTIVE)
        .order_by("ais_checked_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for user_id in ids:
        ais_person_check_task.delay(user_id)
    return len(ids)


# --- the credit outbox (rules R9, conventions C3) ----------------------------------------
def _schedule_send(report_id: int, countdown: int | None = None) -> None:
    from .tasks import ais_report_send_task

    if countdown:
        transaction.on_commit(lambda: ais_report_send_task.apply_async((report_id,), countdown=countdown))
    else:
        transaction.on_commit(lambda: ais_report_send_task.delay(report_id))


def _credit_body(record: CreditRecord, user: User, person: AisPerson) -> str:
    from .clients.base import CreditReport, report_body_text

    return report_body_text(
        CreditReport(
            idempotency_key=policy.credit_idempotency_key(record.uid),
            person_id=person.person_id,
            id_number=user.id_number,
            name=user.name,
            year=record.year.year,
            course_code=record.course_code,
            course_title=record.course_title,
            category=record.category,
            hours=record.hours,
            credits=record.credits,
            passed_at=timezone.localtime(record.passed_at),
        ).as_json()
    )


def _audit_head_lock() -> None:
    """Take the audit chain's head lock first. Every transaction that audits holds it until
    commit, and the refund's revocation audits before it locks our rows: taking it before
    our row locks keeps one lock order (audit head → outbox row) and so no deadlock."""

    AuditHead.objects.get_or_create(id=1)
    AuditHead.objects.select_for_update().get(id=1)


def _set_state(report: AisReport, state: ReportState, at: datetime, **fields: Any) -> None:
    report.state, report.updated_at = state, at
    for name, value in fields.items():
        setattr(report, name, value)
    report.save(update_fields=["state", "updated_at", *fields])


def report_enqueue_for_record(
    record: CreditRecord, *, at: datetime | None = None, fresh: bool = False
) -> AisReport:
    """The credit report of a new credit record: call inside the transaction that created it
    (credits.services.credit_record_created). A learner found in the AIS gets the row with its
    exact body, sent after commit; anyone else a `waiting_person` row, released by the check
    that finds them (reports_release_for_user). Calling it twice changes nothing. `fresh`: the
    caller created `record` in this very transaction, so no report can exist for its new uid
    yet (the lookup is skipped; the unique key would still refuse a second row)."""
    at = at or timezone.now()
    key = policy.credit_idempotency_key(record.uid)
    existing = None if fresh else AisReport.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    # The learner and their AIS person row (if any) in one query, only what the body needs.
    user = (
        User.objects.select_related("ais_person")
        .only("name", "id_number", "ais_status", "ais_person__person_id")
        .get(pk=record.user_id)
    )
    try:
        person = user.ais_person
    except AisPerson.DoesNotExist:
        person = None
    found = user.ais_status == AisStatus.FOUND and person is not None and bool(person.person_id)
    report = AisReport.objects.create(
        kind=ReportKind.CREDIT,
        record=record,
        idempotency_key=key,
        body=_credit_body(record, user, person) if found and person is not None else "",
        state=ReportState.PENDING if found else ReportState.WAITING_PERSON,
        next_attempt_at=at + policy.PENDING_GRACE if found else None,
        created_at=at,
        updated_at=at,
    )
    audit_record(
        "ais.report_queued",
        subject=report,
        at=at,
        data={"kind": report.kind, "record": str(record.uid), "state": report.state},
    )
    if found:
        _schedule_send(report.pk)
    return report


def reports_release_for_user(*, user: User, person: AisPerson, at: datetime | None = None) -> int:
    """The person was found: their waiting credit reports get their bodies (with the AIS
    person_id) and are sent after commit. Inside the caller's transaction. Returns how many."""

    at = at or timezone.now()
    n = 0
    waiting = (
        AisReport.objects.select_for_update(of=("self",))
        .select_related("record", "record__year")
        .filter(record__user_id=user.pk, kind=ReportKind.CREDIT, state=ReportState.WAITING_PERSON)
        .order_by("pk")
    )
    for report in waiting:
        if report.record.status != RecordStatus.ACTIVE:
            _set_state(report, ReportState.CANCELLED, at, last_error="学时已撤销，无需上报")
            continue
        _set_state(
            report,
            ReportState.PENDING,
            at,
            body=_credit_body(report.record, user, person),
            next_attempt_at=at + policy.PENDING_GRACE,
        )
        audit_record("ais.report_released", subject=report, at=at, data={"record": str(report.record.uid)})
        _schedule_send(report.pk)
        n += 1
    return n


def reversal_enqueue_for_record(record: CreditRecord, *, at: datetime | None = None) -> AisReport | None:
    """A credit record was revoked (a refund): call inside the revocation's transaction
    (credits.services.credit_record_revoked). If the AIS cannot have the credit (never sent,
    or finally refused), its report is cancelled and nothing is sent; otherwise a reversal row
    is written, sent once the credit report has its receipt (the reversal needs it)."""
    at = at or timezone.now()
    credit = AisReport.objects.select_for_update().filter(record_id=record.pk, kind=ReportKind.CREDIT).first()
    if credit is None or credit.state == ReportState.CANCELLED:
        return None
    if policy.report_cancellable(credit.state, credit.attempts, credit.last_status):
        _set_state(
            credit,
            ReportState.CANCELLED,
            at,
            next_attempt_at=None,
            last_error=f"学时已撤销（{record.revoke_reason}），未上报，取消",
        )
        audit_record("ais.report_cancelled", subject=credit, at=at, data={"record": str(record.uid)})
        return None
    key = policy.reversal_idempotency_key(record.uid)
    reversal = AisReport.objects.filter(idempotency_key=key).first()
    if reversal is not None:
        return reversal
    from .clients.base import report_body_text

    ready = credit.state == ReportState.SENT
    reversal = AisReport.objects.create(
        kind=ReportKind.REVERSAL,
        record=record,
        idempotency_key=key,
        body=report_body_text(
            {"idempotency_key": key, "reason": (record.revoke_reason or policy.REVERSAL_REASON_DEFAULT)[:200]}
        ),
        state=ReportState.PENDING if ready else ReportState.WAITING_CREDIT,
        next_attempt_at=at + policy.PENDING_GRACE if ready else None,
        created_at=at,
        updated_at=at,
    )
    audit_record(
        "ais.report_queued",
        subject=reversal,
        at=at,
        data={"kind": reversal.kind, "record": str(record.uid), "state": reversal.state},
    )
    if ready:
        _schedule_send(reversal.pk)
    return reversal


def _claim(report_id: int, at: datetime, due: bool) -> tuple[AisReport, str] | None:
    """Take the row for one send (a short transaction): returns (report, credit receipt) or
    None when there is nothing to do now."""
    with transaction.atomic():
        report = AisReport.objects.select_for_update().filter(pk=report_id).first()
        if report is None:
            return None
        if report.state == ReportState.SENDING:
            # Someone holds it; only an expired lease (a killed worker) is taken back.
            if report.next_attempt_at and report.next_attempt_at > at:
                return None
        elif report.state == ReportState.RETRYING:
            if not due and report.next_attempt_at and report.next_attempt_at > at + timedelta(seconds=1):
                return None
        elif report.state != ReportState.PENDING:
            return None
        receipt = ""
        if report.kind == ReportKind.REVERSAL:
            credit = AisReport.objects.filter(record_id=report.record_id, kind=ReportKind.CREDIT).first()
            if credit is None or credit.state != ReportState.SENT:
                _set_state(report, ReportState.WAITING_CREDIT, at, next_attempt_at=None)
                return None
            receipt = credit.receipt_no
        _set_state(
            report,
            ReportState.SENDING,
            at,
            attempts=report.attempts + 1,
            last_attempt_at=at,
            next_attempt_at=at + policy.SEND_LEASE,
        )
        return report, receipt


def report_send(
    *, report_id: int, at: datetime | None = None, client: AisClient | None = None, due: bool = False
) -> AisReport | None:
    """Send one outbox row (the task's body; retry-safe). Claim the row under its lock, send the
    stored body with its idempotency key outside any transaction, then record the answer under
    the lock: the receipt (sent), an outage (retrying, with backoff), a refusal (failed, with
    the AIS's answer). Whatever happens between the send and the record, the next send of the
    same bytes gets the same receipt back."""
    at = at or timezone.now()
    claimed = _claim(report_id, at, due)
    if claimed is None:
        return None
    report, credit_receipt = claimed
    client = client or get_client()
    result: ReportReceipt | ReversalReceipt | None = None
    error: AisError | None = None
    try:
        if report.kind == ReportKind.CREDIT:
            result = client.send_report(report.body)
        else:
            import json

            body = json.loads(report.body)
            result = client.reverse_credit(
                receipt_no=credit_receipt, idempotency_key=body["idempotency_key"], reason=body["reason"]
            )
    except (AisUnavailable, AisRejected) as exc:
        error = exc
    return _record_answer(report.pk, report.attempts, result, error, timezone.now())


def _record_answer(
    report_id: int,
    attempt_no: int,
    result: ReportReceipt | ReversalReceipt | None,
    error: AisError | None,
    at: datetime,
) -> AisReport:
    with transaction.atomic():
        _audit_head_lock()
        report = (
            AisReport.objects.select_for_update(of=("self",))
            .select_related("record", "record__user")
            .get(pk=report_id)
        )
        if result is not None:
            if report.state == ReportState.SENT:
                return report  # another worker recorded the same receipt
            fields = dict(
                receipt_no=result.receipt_no,
                sent_at=at,
                next_attempt_at=None,
                last_error="",
                last_status=(201 if getattr(result, "created", True) else 200)
                if report.kind == ReportKind.CREDIT
                else 200,
            )
            if report.kind == ReportKind.REVERSAL:
                # A reversal's answer is reverse_credit's ReversalReceipt.
                fields["reversal_no"] = result.reversal_no  # type: ignore[union-attr]
            _set_state(report, ReportState.SENT, at, **fields)
            audit_record(
                "ais.report_sent",
                subject=report,
                at=at,
                data={
                    "kind": report.kind,
                    "record": str(report.record.uid),
                    "receipt_no": report.receipt_no,
                    "reversal_no": report.reversal_no,
                    "attempts": report.attempts,
                },
            )
            if report.kind == ReportKind.CREDIT:
                privacy_transfer_record(
                    user=report.record.user,
                    purpose="credit_report",
                    fields=REPORT_FIELDS,
                    outcome="sent",
                    at=at,
                )
                _release_reversal(report, at)
            return report
        if report.state != ReportState.SENDING or report.attempts != attempt_no:
            return report  # the sweep took it back meanwhile; its send decides
        assert error is not None  # report_send passes an answer or the error instead of one
        message = f"{error.status or ''} {error.code}: {error}".strip()[:400]
        if isinstance(error, AisRejected):
            _set_state(
                report,
                ReportState.FAILED,
                at,
                last_status=error.status,
                last_error=message,
                next_attempt_at=None,
            )
            audit_record(
                "ais.report_failed",
                subject=report,
                at=at,
                data={
                    "kind": report.kind,
                    "record": str(report.record.uid),
                    "status": error.status,
                    "code": error.code,
                },
            )
            log.error("AIS refused %s: %s", report.idempotency_key, message)
            if report.kind == ReportKind.CREDIT and error.status in policy.NOT_RECORDED_STATUSES:
                _cancel_waiting_reversal(report, at)
            return report
        if policy.report_gives_up(report.attempts):
            _set_state(
                report,
                ReportState.FAILED,
                at,
                last_status=error.status,
                last_error=message,
                next_attempt_at=None,
            )
            audit_record(
                "ais.report_failed",
                subject=report,
                at=at,
                data={
                    "kind": report.kind,
                    "record": str(report.record.uid),
                    "status": error.status,
                    "code": "exhausted",
                },
            )
            return report
        countdown = policy.report_retry_countdown(report.attempts, error.retry_after)
        _set_state(
            report,
            ReportState.RETRYING,
            at,
            last_status=error.status,
            last_error=message,
            next_attempt_at=at + timedelta(seconds=countdown),
        )
        _schedule_send(report.pk, countdown=countdown)
        return report


def _release_reversal(credit: AisReport, at: datetime) -> None:
    waiting = (
        AisReport.objects.select_for_update()
        .filter(record_id=credit.record_id, kind=ReportKind.REVERSAL, state=ReportState.WAITING_CREDIT)
        .first()
    )
    if waiting is not None:
        _set_state(waiting, ReportState.PENDING, at, next_attempt_at=at + policy.PENDING_GRACE)
        _schedule_send(waiting.pk)


def _cancel_waiting_reversal(credit: AisReport, at: datetime) -> None:
    waiting = (
        AisReport.objects.select_for_update()
        .filter(record_id=credit.record_id, kind=ReportKind.REVERSAL, state=ReportState.WAITING_CREDIT)
        .first()
    )
    if waiting is not None:
        _set_state(waiting, ReportState.CANCELLED, at, last_error="学时上报未被 AIS 记载，无需撤销")
        audit_record("ais.report_cancelled", subject=waiting, at=at, data={"record": str(credit.record.uid)})


def report_retry(
    *, report_id: int, actor: User | None = None, ip: str | None = None, at: datetime | None = None
) -> AisReport:
    """Staff 重试: a failed or retrying row is sent again now (same body, same key)."""
    from .errors import ReportingError

    at = at or timezone.now()
    with transaction.atomic():
        _audit_head_lock()
        report = AisReport.objects.select_for_update().get(pk=report_id)
        if report.state not in (ReportState.FAILED, ReportState.RETRYING):
            raise ReportingError("not_retryable", f"当前状态（{report.get_state_display()}）无需重试。")
        old = report.state
        _set_state(report, ReportState.PENDING, at, next_attempt_at=at + policy.PENDING_GRACE)
        audit_record("ais.report_retry", actor=actor, subject=report, ip=ip, at=at, data={"old_state": old})
        _schedule_send(report.pk)
    return report


def report_sweep(*, at: datetime | None = None, limit: int = policy.SWEEP_LIMIT) -> int:
    """Periodic: send what is due. Pending rows whose on-commit task never ran, retrying rows
    whose wait is over, `sending` rows whose lease ran out (a worker died between the send
    and the record: the resend gets the same receipt), and reversals whose credit now has its
    receipt. Returns how many sends were queued."""
    from django.db.models import Q

    from .tasks import ais_report_send_task

    at = at or timezone.now()
    due = Q(
        state__in=[ReportState.PENDING, ReportState.RETRYING, ReportState.SENDING], next_attempt_at__lte=at
    )
    ids = list(
        AisReport.objects.filter(due).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit]
    )
    with transaction.atomic():
        stuck = AisReport.objects.select_for_update().filter(
            pk__in=ids, state=ReportState.SENDING, next_attempt_at__lte=at
        )
        for report in stuck:
            _set_state(
                report,
                ReportState.RETRYING,
                at,
                next_attempt_at=at,
                last_error="发送中断（租约已过期），重新发送",
            )
    # A reversal whose credit got its receipt while the release was missed.
    orphans = AisReport.objects.filter(
        kind=ReportKind.REVERSAL,
        state=ReportState.WAITING_CREDIT,
        record__ais_reports__kind=ReportKind.CREDIT,
        record__ais_reports__state=ReportState.SENT,
    )
    for report in orphans[:limit]:
        with transaction.atomic():
            AisReport.objects.filter(pk=report.pk, state=ReportState.WAITING_CREDIT).update(
                state=ReportState.PENDING, next_attempt_at=at, updated_at=at
            )
        ids.append(report.pk)
    for report_id in ids:
        ais_report_send_task.delay(report_id, True)
    return len(ids)


# --- exports (rules R9.2) -------------------------------------------------------------------------
def export_job_create(
    *,
    year: int,
    region: str = "",
    actor: User | None = None,
    ip: str | None = None,
    at: datetime | None = None,
) -> ExportJob:
    """Queue a year's export (after commit); audited: the file holds ID numbers and mobiles."""
    from .tasks import ais_export_task

    at = at or timezone.now()
    with transaction.atomic():
        job = ExportJob.objects.create(year=year, region=region or "", created_by=actor, created_at=at)
        audit_record(
            "reporting.export_requested",
            actor=actor,
            subject=job,
            ip=ip,
            at=at,
            data={"year": year, "region": region or "all"},
        )
        transaction.on_commit(lambda: ais_export_task.delay(job.pk))
    return job


def export_root() -> Path:
    """Where the filesystem default keeps export files: settings.EXPORT_ROOT, which must be
    outside MEDIA_ROOT and STATIC_ROOT (nothing may serve these files but staff_export_download).
    With an object store the files live under the private bucket's exports prefix instead."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    default = Path(settings.MEDIA_ROOT).parent / "private" / "exports"
    root = Path(getattr(settings, "EXPORT_ROOT", default)).resolve()
    for served in (settings.MEDIA_ROOT, settings.STATIC_ROOT):
        if served and root.is_relative_to(Path(served).resolve()):
            raise ImproperlyConfigured(
                f"EXPORT_ROOT ({root}) must be outside {served}: export files hold "
                "full ID numbers and mobiles and must never be served directly."
            )
    return root


def export_storage() -> Storage:
    """The "exports" storage, after checking that a filesystem one is in no served directory."""

    store = stores.exports()
    if not stores.is_object_store(store):
        export_root()
    return store


_EXPORT_NAME = re.compile(r"[A-Za-z0-9_-]{32,}\.xlsx")


def export_file_name(job: ExportJob) -> str | None:
    """The job's file name in export_storage(), or None (no file, or a name this code never
    makes: a legacy public path, anything with a separator)."""
    if not job.file or not _EXPORT_NAME.fullmatch(job.file):
        return None
    return job.file


def export_file_path(job: ExportJob) -> Path | None:
    """The job's file on the filesystem default, or None (see export_file_name)."""
    name = export_file_name(job)
    return export_root() / name if name else None


def export_download_name(job: ExportJob) -> str:
    """The name the browser saves the file under (the stored name is random)."""
    return f"ais-results-{job.year}-{job.region or 'all'}-{job.pk}.xlsx"


def export_run(*, job_id: int, at: datetime | None = None) -> ExportJob | None:
    """Write the workbook for a queued job, updating its progress as it goes. A job already
    running (a redelivered task) or done is left alone; a failure marks it failed. The file gets
    a random, unguessable name in export_storage() (on the filesystem: mode 0600 in a 0700
    directory; in the object store: a private object) and expires policy.EXPORT_RETENTION after
    it is finished."""
    import secrets
    import tempfile

    from django.core.files import File

    from . import exports

    at = at or timezone.now()
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (ExportStatus.QUEUED, ExportStatus.FAILED):
            return None
        job.status, job.started_at, job.progress, job.rows_done, job.error = (
            ExportStatus.RUNNING,
            at,
            0,
            0,
            "",
        )
        job.save(update_fields=["status", "started_at", "progress", "rows_done", "error"])
    store = export_storage()
    name = secrets.token_urlsafe(32) + ".xlsx"
    try:
        # The workbook is written in a private temporary directory (0700), then stored; a
        # crashed worker leaves nothing in the store.
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            total, rows = exports.export_rows(job.year, job.region)
            ExportJob.objects.filter(pk=job.pk).update(rows_total=total)

            def progress(n: int) -> None:
                ExportJob.objects.filter(pk=job.pk).update(
                    rows_done=n, progress=min(99, n * 100 // max(total, 1))
                )

            n = exports.write_workbook(path, job.year, rows, progress=progress)
            with open(path, "rb") as fh:
                stored = store.save(name, File(fh, name=name))
            if stored != name:  # never: 43 random characters; refuse rather than lose track
                store.delete(stored)
                raise RuntimeError("导出文件名冲突，请重新导出。")
    except Exception as exc:
        log.exception("export %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportStatus.FAILED, error=str(exc)[:400], finished_at=timezone.now()
        )
        job.refresh_from_db()
        return job
    done = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.DONE,
        progress=100,
        rows_done=n,
        rows_total=n,
        file=name,
        finished_at=done,
        expires_at=policy.export_expires_at(done),
    )
    job.refresh_from_db()
    return job


def exports_expire(*, at: datetime | None = None) -> int:
    """The scheduled clean-up: delete the file of every done job whose expiry has come (or that
    has none: made before files expired, in the old public MEDIA_ROOT/exports/ location) and
    mark the job expired (audited); delete the old public files, and leftovers in
    export_storage() (a file no done job names, e.g. a job whose row was lost) older than the
    retention. Returns how many jobs expired."""
    from pathlib import Path

    from django.conf import settings
    from django.db.models import Q

    at = at or timezone.now()
    store = export_storage()
    expired = 0
    due = ExportJob.objects.filter(
        Q(expires_at__lte=at) | Q(expires_at__isnull=True), status=ExportStatus.DONE
    )
    for job_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            job = ExportJob.objects.select_for_update().filter(pk=job_id, status=ExportStatus.DONE).first()
            if job is None or policy.export_downloadable(done=True, expires_at=job.expires_at, at=at):
                continue
            name = export_file_name(job)
            if name is not None:
                store.delete(name)
            old_file = job.file
            job.status, job.file = ExportStatus.EXPIRED, ""
            job.save(update_fields=["status", "file"])
            audit_record(
                "reporting.export_expired",
                subject=job,
                at=at,
                data={
                    "year": job.year,
                    "region": job.region or "all",
                    "legacy": name is None and bool(old_file),
                },
            )
            expired += 1
    legacy = Path(settings.MEDIA_ROOT) / "exports"
    if legacy.is_dir():  # files of the old scheme: guessable names in a served directory
        for old in legacy.glob("ais-results-*.xlsx*"):
            old.unlink(missing_ok=True)
    live = set(
        ExportJob.objects.filter(status=ExportStatus.DONE).exclude(file="").values_list("file", flat=True)
    )
    cutoff = at - policy.EXPORT_RETENTION
    try:
        _dirs, files = store.listdir("")
    except FileNotFoundError:
        files = []
    for f in files:
        if f not in live and store.get_modified_time(f) < cutoff:
            store.delete(f)
    return expired
