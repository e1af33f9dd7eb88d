"""Every write to the credit ledger and certificates (rules R8.3-8.4, R5 refunds).

- `credit_record_for_pass` runs inside the exam's grading transaction: a pass and its record
  commit together or not at all.
- `credit_record_created(record)` is THE place where what must happen in the same transaction
  as a new record goes (the AIS reporting outbox row, issue "reporting").
- `credits_revoke_for_order` runs inside the refund's transaction (orders.services._after_refund)."""

import secrets
from datetime import datetime
from typing import Protocol

from django.db import transaction
from django.db.models import Model

from cpe.accounts.models import User
from cpe.catalog.models import Course, TrainingYear
from cpe.core.audit import audit_record
from cpe.learning.models import Enrolment

from . import hooks, policy, selectors
from .models import Certificate, CertificateKind, CertificateStatus, CreditRecord, RecordStatus


def credit_record_created(record: CreditRecord) -> None:
    """Called inside the transaction that created `record`: the AIS outbox row is written in
    the same transaction, keyed on record.uid (rules R9.1): reporting.services.
    report_enqueue_for_record, registered by ReportingConfig.ready (reporting sits above credits)."""
    hooks.record_created.send(record)


def credit_record_revoked(record: CreditRecord) -> None:
    """Called inside the transaction that revoked `record`: the AIS reversal (or the
    cancellation of a report never sent) is queued in the same transaction (rules R9.3):
    reporting.services.reversal_enqueue_for_record, registered by ReportingConfig.ready."""
    hooks.record_revoked.send(record)


def _new_number(kind: str, year: int) -> str:
    """80 random bits: a collision is never expected; the unique index would refuse one."""
    return policy.verification_number(kind, year, secrets.token_bytes(policy.VERIFICATION_RANDOM_BYTES))


class PassedAttempt(Protocol):
    """What credits reads of a graded exams.Attempt (exams sits above credits: credits names only
    what it reads)."""

    @property
    def pk(self) -> int: ...
    @property
    def user_id(self) -> int: ...
    @property
    def user(self) -> User: ...
    @property
    def course(self) -> Course: ...
    @property
    def enrolment(self) -> Enrolment: ...
    @property
    def passed(self) -> bool | None: ...
    @property
    def score(self) -> int | None: ...
    @property
    def submitted_at(self) -> datetime | None: ...


def credit_record_for_pass(*, attempt: PassedAttempt, at: datetime) -> CreditRecord | None:
    """Record the course's credit hours for the training year on a pass, once per course per
    year (credits.policy.record_on_pass), with its pass certificate; then the year's completion
    certificate if this record completes the year. Must run inside the grading transaction."""

    course = attempt.course
    # One ledger decision per learner at a time (two courses passed at once must not both miss
    # the year's completion, nor both issue it). The lock is the point: read only the key.
    User.objects.select_for_update().filter(pk=attempt.user_id).values_list("pk", flat=True).first()
    year = course.year
    # The year's active records, read once under that lock: whether this course already has
    # one, and (with the new record) the year's status below.
    active = selectors.year_active_records(attempt.user_id, year)
    has_active = any(course_id == course.pk for course_id, _, _ in active)
    if not policy.record_on_pass(passed=bool(attempt.passed), has_active_record=has_active):
        return None
    record = CreditRecord.objects.create(
        user_id=attempt.user_id,
        year=year,
        course=course,
        course_code=course.code,
        course_title=course.title,
        category=course.category,
        hours=course.credit_hours,
        credits=policy.credits_for(course.credit_hours, year.credits_per_hour),
        score=attempt.score,
        passed_at=attempt.submitted_at,
        attempt=attempt,  # type: ignore[misc]  # an exams.Attempt (PassedAttempt above)
        order_id=attempt.enrolment.order_id,
        created_at=at,
    )
    user = attempt.user
    cert = Certificate.objects.create(
        number=_new_number("course", year.year),
        kind=CertificateKind.COURSE,
        user=user,
        year=year,
        record=record,
        holder_name=user.name,
        title=course.title,
        hours=record.hours,
        professional_hours=record.hours if record.category == policy.PROFESSIONAL else 0,
        public_hours=record.hours if record.category == policy.PUBLIC else 0,
        credits=record.credits,
        issued_at=at,
    )
    # One audit event for the record and its pass certificate (the chain's lock is global: keep
    # the grading transaction's share of it short).
    audit_record(
        "credit.recorded",
        actor=user,
        subject=record,
        at=at,
        data={
            "course": course.code,
            "year": year.year,
            "hours": record.hours,
            "credits": record.credits,
            "attempt": attempt.pk,
            "score": attempt.score,
            "certificate": cert.number,
        },
    )
    credit_record_created(record)
    with_new = [*active, (course.pk, record.category, record.hours)]
    _year_certificate_sync(user, year, at, reason="", status=selectors.year_status_of(year, with_new))
    return record


def _year_certificate_sync(
    user: User, year: TrainingYear, at: datetime, *, reason: str, status: policy.YearStatus | None = None
) -> None:
    """Keep the year's completion certificate true to the ledger: issue one when the year is
    complete and none is valid; when hours were revoked, revoke the one in force and, if the
    year is still complete, issue a new one stating the hours that remain. `status`: the
    year's status if the caller already knows it (under the learner's lock), else read."""
    if status is None:
        status = selectors.year_status_for(user, year)
    if not reason and not policy.year_certificate_allowed(status):
        return  # nothing to revoke, nothing to issue (most passes: the year is not complete yet)
    current = (
        Certificate.objects.select_for_update()
        .filter(user=user, year=year, kind=CertificateKind.YEAR, status=CertificateStatus.VALID)
        .first()
    )
    if current is not None and reason:
        _revoke_certificate(current, reason, at)
        current = None
    if current is None and policy.year_certificate_allowed(status):
        cert = Certificate.objects.create(
            number=_new_number("year", year.year),
            kind=CertificateKind.YEAR,
            user=user,
            year=year,
            holder_name=user.name,
            title=f"{year.year} 年度会计人员继续教育学时证明",
            hours=status.total_hours,
            professional_hours=status.professional_hours,
            public_hours=status.public_hours,
            credits=status.credits,
            issued_at=at,
        )
        audit_record(
            "certificate.issued",
            actor=user,
            subject=cert,
            at=at,
            data={"kind": cert.kind, "year": year.year, "hours": cert.hours},
        )


def _revoke_certificate(cert: Certificate, reason: str, at: datetime, actor: User | None = None) -> None:
    cert.status, cert.revoked_at, cert.revoke_reason = CertificateStatus.REVOKED, at, reason[:200]
    cert.save(update_fields=["status", "revoked_at", "revoke_reason"])
    audit_record("certificate.revoked", actor=actor, subject=cert, at=at, data={"reason": cert.revoke_reason})


def credit_record_revoke(
    *, record: CreditRecord, reason: str, at: datetime, actor: User | None = None
) -> CreditRecord:
    """active → revoked, with the reason; its certificate is revoked, and the year's
    completion certificate follows the ledger (rules R5, R8)."""

    if not (reason or "").strip():
        raise ValueError("a revocation needs a reason")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=record.user_id).first()
        record = (
            CreditRecord.objects.select_for_update(of=("self",))
            .select_related("user", "year")
            .get(pk=record.pk)
        )
        if record.status != RecordStatus.ACTIVE:
            return record
        record.status, record.revoked_at, record.revoke_reason = (
            RecordStatus.REVOKED,
            at,
            reason.strip()[:200],
        )
        record.save(update_fields=["status", "revoked_at", "revoke_reason"])
        audit_record(
            "credit.revoked",
            actor=actor,
            subject=record,
            at=at,
            data={"reason": record.revoke_reason, "course": record.course_code, "hours": record.hours},
        )
        cert = (
            Certificate.objects.select_for_update()
            .filter(record=record, status=CertificateStatus.VALID)
            .first()
        )
        if cert is not None:
            _revoke_certificate(cert, record.revoke_reason, at, actor)
        credit_record_revoked(record)
        _year_certificate_sync(record.user, record.year, at, reason=record.revoke_reason)
    return record


def credits_revoke_for_order(*, order: Model, reason: str, at: datetime, actor: User | None = None) -> int:
    """A refund revokes the credits earned under the order and their certificates (issue
    "Rules": a refund approved under the buying issue revokes ...). Runs inside the refund's
    transaction; returns how many records were revoked. `order`: the refunded orders.Order
    (orders sits above credits)."""
    n = 0
    for record in CreditRecord.objects.filter(order_id=order.pk, status=RecordStatus.ACTIVE):
        credit_record_revoke(record=record, reason=reason, at=at, actor=actor)
        n += 1
    return n
