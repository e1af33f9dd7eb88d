"""注销账号 (rules R11; agreement §1.4; 电子商务法 Art. 24 & 31; 个人信息保护法 Art. 47).

One service, account_close, in one transaction:
- checks the password and the refusal rule (policy.closing_refusal); a refusal changes nothing;
- queues the confirmation SMS/e-mail while the contact data still exists (sent after commit);
- never paid → deletes the user row and every row holding the learner's personal data;
- paid within 3 years → locks the account, seals identity and transaction records with the
  archive key into ArchivedAccount, and leaves placeholders in the live rows;
- paid longer ago → as the previous one, without an archive (its retention has run out);
- writes one audit event (no personal data: counts, outcome, dates).

Decisions (docs/decisions/0010-closing.md):
- Agreement acceptances: deleted with a never-paid account (the consent they prove ends with the
  account; the audit chain keeps the pseudonymous fact "account N accepted version V at T");
  kept for an archived account (evidence of the contract under which it paid) with IP and user
  agent moved into the archive.
- The same ID number may register again after closing: closing is the learner's right, not a
  ban; the closed row keeps no blind index.
- The confirmation message row: created with user=None so it is not deleted with the account,
  and wiped (address, body, parameters) once sent, or after policy.CLOSING_OUTBOX_SCRUB_AFTER,
  by outbox_scrub_closed (run by the daily purge task). Until then its address is encrypted
  under the live field key, as every queued message's is.
"""
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from cpe.core import crypto
from cpe.core.audit import audit_record
from cpe.notices.models import Channel, MessageStatus, OutboundMessage
from cpe.notices.services import message_queue

from . import policy
from .errors import AccountError
from .models import ArchivedAccount, IdentityChangeRequest, LoginRecord, User, VerificationCode
from .states import TRANSITIONS, AccountStatus

CLOSED_EVENT = "account.closed"


# --- facts ----------------------------------------------------------------------------------
def _enrolment_facts(user) -> list[policy.EnrolmentFacts]:
    from cpe.credits.models import CreditRecord, RecordStatus
    from cpe.credits.selectors import year_complete
    from cpe.learning.models import Enrolment, EnrolmentStatus

    facts = []
    for e in Enrolment.objects.filter(user=user).select_related("product", "year"):
        if e.product.course_id:
            recorded = int(CreditRecord.objects.filter(user=user, course_id=e.product.course_id,
                                                       status=RecordStatus.ACTIVE).exists())
        else:
            recorded = int(year_complete(user, e.year))
        facts.append(policy.EnrolmentFacts(valid_from=e.valid_from, valid_until=e.valid_until,
                                           closed=e.status == EnrolmentStatus.CLOSED,
                                           courses_total=1, courses_recorded=recorded))
    return facts


def _refund_in_progress(user) -> bool:
    from cpe.orders.models import Order, Refund
    from cpe.orders.states import OrderStatus, RefundStatus

    return (Order.objects.filter(user=user, status=OrderStatus.REFUND_REQUESTED).exists()
            or Refund.objects.filter(order__user=user, status__in=[
                RefundStatus.REQUESTED, RefundStatus.PROCESSING, RefundStatus.FAILED]).exists())


def _ais_report_pending(user) -> bool:
    from cpe.reporting.models import AisReport
    from cpe.reporting.states import ReportState

    return AisReport.objects.filter(record__user=user, state__in=[
        ReportState.PENDING, ReportState.SENDING, ReportState.RETRYING, ReportState.WAITING_CREDIT]).exists()


def last_transaction_at(user) -> datetime | None:
    """The latest payment or refund of the learner's orders (None: never paid)."""
    from cpe.orders.models import Order, Refund

    paid = Order.objects.filter(user=user, paid_at__isnull=False).aggregate(m=Max("paid_at"))["m"]
    refunded = Refund.objects.filter(order__user=user, refunded_at__isnull=False).aggregate(
        m=Max("refunded_at"))["m"]
    return max([t for t in (paid, refunded) if t is not None], default=None)


@dataclass(frozen=True)
class ClosingPreview:
    refusal: policy.Decision
    outcome: str
    purge_after: datetime | None


def closing_preview(user, at=None) -> ClosingPreview:
    """What closing would do now (for the page): the refusal, if any, and the outcome."""
    at = at or timezone.now()
    last = last_transaction_at(user)
    return ClosingPreview(
        refusal=policy.closing_refusal(enrolments=_enrolment_facts(user),
                                       refund_in_progress=_refund_in_progress(user),
                                       ais_report_pending=_ais_report_pending(user), at=at),
        outcome=policy.closing_outcome(last_transaction_at=last, at=at),
        purge_after=policy.closing_purge_after(last) if last else None)


# --- the service ----------------------------------------------------------------------------
def account_close(*, user, password: str, confirmed: bool, ip=None, at=None) -> str:
    """Close the learner's own account now (rules R11). Returns the outcome
    (policy.ClosingOutcome). Refusals raise AccountError and change nothing."""
    at = at or timezone.now()
    if not user.is_active or user.is_staff or not password or not user.check_password(password):
        raise AccountError("wrong_password", "密码不正确，账号未注销。", field="password")
    if not confirmed:
        raise AccountError("not_confirmed", "请勾选确认已了解注销的后果。", field="confirm")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if AccountStatus.CLOSED not in TRANSITIONS[AccountStatus(locked.status)]:
            raise AccountError("bad_state", "该账号已不在服务中。")
        refusal = policy.closing_refusal(enrolments=_enrolment_facts(locked),
                                         refund_in_progress=_refund_in_progress(locked),
                                         ais_report_pending=_ais_report_pending(locked), at=at)
        if not refusal.allowed:
            raise AccountError(refusal.code, refusal.message)
        last = last_transaction_at(locked)
        outcome = policy.closing_outcome(last_transaction_at=last, at=at)
        from cpe.learning.services import play_sessions_revoke
        play_sessions_revoke(user_id=locked.pk, reason="account_closed", at=at)  # before rows go: players stop
        _confirmation_queue(locked, outcome, at)
        if outcome == policy.ClosingOutcome.DELETE:
            counts = _delete_everything(locked)
            data = {"outcome": outcome, "deleted": counts}
        else:
            archive = _seal(locked, last, at) if outcome == policy.ClosingOutcome.ARCHIVE else None
            counts = _scrub_live_rows(locked, at)
            data = {"outcome": outcome, "scrubbed": counts,
                    "archive": archive.pk if archive else None,
                    "key_id": archive.key_id if archive else "",
                    "purge_after": archive.purge_after.isoformat() if archive else ""}
        # Ids only (the actor label is the random username): after a deletion the row is gone,
        # the event stays and the chain still verifies.
        audit_record(CLOSED_EVENT, actor=locked, subject=locked, ip=ip, at=at, data={"by": "self", **data})
    user.is_active = False
    return outcome


def _confirmation_queue(user, outcome, at):
    """Queue the confirmation (rules R11.4) before the contact data goes. user=None: the row is
    not the account's and survives its deletion, until outbox_scrub_closed wipes it."""
    if outcome == policy.ClosingOutcome.DELETE:
        what = "您的个人信息已全部删除。"
    else:
        what = (f"账号已锁定，交易记录依法加密封存 {policy.CLOSING_ARCHIVE_YEARS} 年后删除，"
                "其余个人信息已删除。")
    when = timezone.localtime(at).strftime("%Y-%m-%d %H:%M")
    if user.mobile:
        message_queue(channel=Channel.SMS, to=user.mobile, user=None, at=at, event=CLOSED_EVENT,
                      body=f"【内蒙古会计继续教育】您的账号已于 {when} 注销。{what}如非本人操作请联系客服。")
    if user.email and user.email_verified_at:
        message_queue(channel=Channel.EMAIL, to=user.email, user=None, at=at, event=CLOSED_EVENT,
                      subject="账号注销确认",
                      body=f"您好：\n\n您在内蒙古会计人员继续教育平台的账号已于 {when} 注销。{what}\n\n"
                           "如非本人操作，请立即联系客服。")


def _contact_bidx(user) -> list[str]:
    return [crypto.blind_index("code_target", v) for v in (user.mobile, user.email) if v]


def _delete_pre_account_messages(user) -> int:
    """Messages sent to the learner's address before the account existed (the registration
    code: user=None). The outbox has no blind index, so the few unattached messages around the
    registration time are decrypted and compared."""
    window = policy.CODE_TTL + policy.CODE_RESEND_INTERVAL
    contacts = {v for v in (user.mobile, user.email) if v}
    candidates = OutboundMessage.objects.filter(
        user__isnull=True, event__startswith="code.",
        created_at__gte=user.date_joined - timedelta(days=1) - window, created_at__lte=user.date_joined)
    ids = [m.pk for m in candidates if m.to in contacts]
    return OutboundMessage.objects.filter(pk__in=ids).delete()[0]


def _delete_common(user) -> dict:
    """Rows that go in both cases: sign-in records, codes (also those sent before the account
    existed, found by the address), identity-change requests, the account's own messages,
    support threads (free text). The account's own session ends with it: the view signs the
    closing request out, and any other session fails the single-session check (the account is
    inactive); the account keeps only a hash of its session key, so there is no key to delete by."""
    from cpe.support.models import Thread

    counts = {
        "login_records": LoginRecord.objects.filter(user=user).delete()[0],
        "codes": VerificationCode.objects.filter(Q(user=user) | Q(target_bidx__in=_contact_bidx(user))
                                                 ).delete()[0],
        "identity_changes": IdentityChangeRequest.objects.filter(user=user).delete()[0],
        "messages": (OutboundMessage.objects.filter(user=user).delete()[0]
                     + _delete_pre_account_messages(user)),
        "support_threads": Thread.objects.filter(user=user).delete()[0],
    }
    return counts


def _delete_everything(user) -> dict:
    """Never paid (rules R11.2). Explicit for every PROTECT relation; a paid-only relation
    (enrolment, exam, credit, certificate) cannot exist and would stop the deletion."""
    from cpe.agreements.models import AgreementAcceptance
    from cpe.orders.models import Order

    counts = _delete_common(user)
    # QuerySet.delete, not the model's delete(), which refuses single deletions by design.
    counts["agreement_acceptances"] = AgreementAcceptance.objects.filter(user=user).delete()[0]
    counts["unpaid_orders"] = Order.objects.filter(user=user, paid_at__isnull=True).delete()[0]
    User.objects.filter(pk=user.pk).delete()   # cascades: AIS check, progress, admin log
    return counts


def _seal(user, last, at) -> ArchivedAccount:
    """The archive (rules R11.3): identity and transaction records, sealed with the archive key."""
    from cpe.agreements.models import AgreementAcceptance
    from cpe.credits.models import Certificate
    from cpe.invoicing.models import Invoice
    from cpe.orders.models import Order, Refund

    def iso(t):
        return t.isoformat() if t else None

    content = {
        "user_id": user.pk, "username": user.username, "archived_at": iso(at),
        "identity": {"name": user.name, "id_number": user.id_number, "mobile": user.mobile,
                     "email": user.email, "employer": user.employer, "region": user.region,
                     "date_joined": iso(user.date_joined)},
        "orders": [{"number": o.number, "subject": o.subject, "amount_fen": o.amount_fen,
                    "status": o.status, "gateway": o.gateway, "channel": o.channel,
                    "gateway_txn_id": o.gateway_txn_id, "created_at": iso(o.created_at),
                    "paid_at": iso(o.paid_at), "closed_at": iso(o.closed_at)}
                   for o in Order.objects.filter(user=user).order_by("id")],
        "refunds": [{"refund_no": r.refund_no, "order": r.order.number, "amount_fen": r.amount_fen,
                     "reason": r.reason, "status": r.status, "requested_at": iso(r.requested_at),
                     "refunded_at": iso(r.refunded_at)}
                    for r in Refund.objects.filter(order__user=user).select_related("order").order_by("id")],
        "invoices": [{"number": i.number, "order": i.order.number, "kind": i.kind, "buyer_type": i.buyer_type,
                      "buyer_name": i.buyer_name, "taxpayer_id": i.taxpayer_id, "total_fen": i.total_fen,
                      "issued_at": iso(i.issued_at), "status": i.status, "pdf": i.pdf.name}
                     for i in Invoice.objects.filter(order__user=user).select_related("order")
                     .order_by("id")],
        "certificates": [{"number": c.number, "holder_name": c.holder_name}
                         for c in Certificate.objects.filter(user=user).order_by("id")],
        "agreement_acceptances": [{"version": a.version_id, "decision": a.decision, "at": iso(a.at),
                                   "ip": a.ip, "user_agent": a.user_agent}
                                  for a in AgreementAcceptance.objects.filter(user=user).order_by("id")],
    }
    key_id, sealed = crypto.archive_seal(json.dumps(content, ensure_ascii=False), ArchivedAccount.AAD)
    return ArchivedAccount.objects.create(user=user, sealed=sealed, key_id=key_id, archived_at=at,
                                          last_transaction_at=last,
                                          purge_after=policy.closing_purge_after(last))


def _scrub_live_rows(user, at) -> dict:
    """Lock the account and leave no readable personal data in live rows (rules R11.3)."""
    from cpe.agreements.models import AgreementAcceptance
    from cpe.credits.models import Certificate
    from cpe.credits.policy import holder_after_closing
    from cpe.invoicing.models import Invoice
    from cpe.learning.models import PlaySession, SuspiciousEvent
    from cpe.reporting.models import AisPerson

    counts = _delete_common(user)
    # Issued invoices and acceptances refuse model saves (immutable records); erasing their
    # personal fields on closing is the one sanctioned change, done by QuerySet.update.
    counts["invoices"] = Invoice.objects.filter(order__user=user).update(buyer_name=policy.CLOSED_NAME,
                                                                         taxpayer_id="")
    # A certificate keeps its masked name for verification (credits.policy.holder_after_closing).
    certificates = list(Certificate.objects.filter(user=user).only("pk", "holder_name"))
    for cert in certificates:
        Certificate.objects.filter(pk=cert.pk).update(holder_name=holder_after_closing(cert.holder_name))
    counts["certificates"] = len(certificates)
    counts["agreement_acceptances"] = AgreementAcceptance.objects.filter(user=user).update(ip=None,
                                                                                           user_agent="")
    counts["play_sessions"] = PlaySession.objects.filter(user=user).update(ip=None, user_agent="")
    counts["suspicious_events"] = SuspiciousEvent.objects.filter(user=user).update(ip=None)
    counts["ais_person"] = AisPerson.objects.filter(user=user).delete()[0]
    user.name, user.id_number, user.mobile, user.email = policy.CLOSED_NAME, "", "", ""
    user.employer, user.correction_reason, user.status_note = "", "", ""
    user.status, user.status_reason, user.status_changed_at = AccountStatus.CLOSED, "", at
    user.is_active, user.session_key_hash = False, ""
    user.set_unusable_password()
    user.save()   # save(), not update(): the blind indexes are recomputed (to NULL)
    return counts


# --- the scheduled purge ----------------------------------------------------------------------
def archives_purge(*, at=None) -> int:
    """Delete every archive whose purge_after has passed (rules R11.3), one audit event each."""
    at = at or timezone.now()
    purged = 0
    for pk in ArchivedAccount.objects.filter(purge_after__lte=at).values_list("pk", flat=True):
        with transaction.atomic():
            row = ArchivedAccount.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if row is None or not policy.archive_purge_due(purge_after=row.purge_after, at=at):
                continue
            data = {"archive": row.pk, "user_id": row.user_id, "key_id": row.key_id,
                    "purge_after": row.purge_after.isoformat()}
            row.delete()
            audit_record("account.archive_purged", actor=None, subject=None, at=at, data=data)
            purged += 1
    return purged


def outbox_scrub_closed(*, at=None) -> int:
    """Wipe the address and text of closing confirmations once sent (or after
    CLOSING_OUTBOX_SCRUB_AFTER if the provider keeps failing). The masked address stays."""
    at = at or timezone.now()
    qs = OutboundMessage.objects.filter(event=CLOSED_EVENT).exclude(to="").filter(
        Q(status=MessageStatus.SENT) | Q(created_at__lte=at - policy.CLOSING_OUTBOX_SCRUB_AFTER))
    return qs.update(to="", body="", params="")   # "" is stored as is (no ciphertext to keep)
