"""注销账号 (rules R11; agreement §1.4; 电子商务法 Art. 24 & 31; 个人信息保护法 Art. 47).

One service, account_close, in one transaction. What happens to each app's rows is that app's
closing step (lifecycle.ClosingStep, registered in its account_life.py); this module handles the
user row and runs the steps in their order:
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
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cpe.core import crypto
from cpe.core.audit import audit_record
from cpe.core.datefmt import local_datetime
from cpe.notices.models import Channel, MessageStatus, OutboundMessage
from cpe.notices.services import message_queue

from . import lifecycle, policy
from .errors import AccountError
from .models import ArchivedAccount, User
from .states import TRANSITIONS, AccountStatus

CLOSED_EVENT = "account.closed"


# --- facts: each registered by the app that owns it (lifecycle.register_closing_fact) ------------
def _refusal(user, at) -> policy.Decision:
    fact = lifecycle.closing_fact
    return policy.closing_refusal(
        enrolments=fact("enrolments", user),
        refund_in_progress=fact("refund_in_progress", user),
        ais_report_pending=fact("ais_report_pending", user),
        at=at,
    )


def last_transaction_at(user) -> datetime | None:
    """The latest payment or refund of the learner's orders (None: never paid)."""
    return lifecycle.closing_fact("last_transaction_at", user)


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
        refusal=_refusal(user, at),
        outcome=policy.closing_outcome(last_transaction_at=last, at=at),
        purge_after=policy.closing_purge_after(last) if last else None,
    )


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
        refusal = _refusal(locked, at)
        if not refusal.allowed:
            raise AccountError(refusal.code, refusal.message)
        last = last_transaction_at(locked)
        outcome = policy.closing_outcome(last_transaction_at=last, at=at)
        steps = lifecycle.closing_steps()
        for step in steps:  # before rows go: e.g. players stop
            if step.stop:
                step.stop(locked, at)
        _confirmation_queue(locked, outcome, at)
        if outcome == policy.ClosingOutcome.DELETE:
            counts = _delete_everything(locked, steps)
            data = {"outcome": outcome, "deleted": counts}
        else:
            archive = _seal(locked, last, at, steps) if outcome == policy.ClosingOutcome.ARCHIVE else None
            counts = _scrub_live_rows(locked, at, steps)
            data = {
                "outcome": outcome,
                "scrubbed": counts,
                "archive": archive.pk if archive else None,
                "key_id": archive.key_id if archive else "",
                "purge_after": archive.purge_after.isoformat() if archive else "",
            }
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
        what = (
            f"账号已锁定，交易记录依法加密封存 {policy.CLOSING_ARCHIVE_YEARS} 年后删除，其余个人信息已删除。"
        )
    when = local_datetime(at)
    if user.mobile:
        message_queue(
            channel=Channel.SMS,
            to=user.mobile,
            user=None,
            at=at,
            event=CLOSED_EVENT,
            body=f"【内蒙古会计继续教育】您的账号已于 {when} 注销。{what}如非本人操作请联系客服。",
        )
    if user.email and user.email_verified_at:
        message_queue(
            channel=Channel.EMAIL,
            to=user.email,
            user=None,
            at=at,
            event=CLOSED_EVENT,
            subject="账号注销确认",
            body=f"您好：\n\n您在内蒙古会计人员继续教育平台的账号已于 {when} 注销。{what}\n\n"
            "如非本人操作，请立即联系客服。",
        )


def _delete_everything(user, steps) -> dict:
    """Never paid (rules R11.2): each app's step deletes what the user row's deletion would not
    take (PROTECT relations, rows found by address); a paid-only relation (enrolment, exam,
    credit, certificate) cannot exist and would stop the deletion."""
    counts = {step.key: step.delete(user) for step in steps if step.delete}
    User.objects.filter(pk=user.pk).delete()  # cascades: AIS check, progress, admin log
    return counts


def _seal(user, last, at, steps) -> ArchivedAccount:
    """The archive (rules R11.3): identity and the apps' transaction records, sealed with the
    archive key."""

    def iso(t):
        return t.isoformat() if t else None

    content = {
        "user_id": user.pk,
        "username": user.username,
        "archived_at": iso(at),
        "identity": {
            "name": user.name,
            "id_number": user.id_number,
            "mobile": user.mobile,
            "email": user.email,
            "employer": user.employer,
            "region": user.region,
            "date_joined": iso(user.date_joined),
        },
    }
    for step in steps:
        if step.archive:
            content.update(step.archive(user))
    key_id, sealed = crypto.archive_seal(json.dumps(content, ensure_ascii=False), ArchivedAccount.AAD)
    return ArchivedAccount.objects.create(
        user=user,
        sealed=sealed,
        key_id=key_id,
        archived_at=at,
        last_transaction_at=last,
        purge_after=policy.closing_purge_after(last),
    )


def _scrub_live_rows(user, at, steps) -> dict:
    """Lock the account and leave no readable personal data in live rows (rules R11.3): each
    app's step deletes or blanks its rows, then the user row is scrubbed. The account's own
    session ends with it: the view signs the closing request out, and any other session fails
    the single-session check (the account is inactive); the account keeps only a hash of its
    session key, so there is no key to delete by."""
    counts = {step.key: step.scrub(user, at) for step in steps if step.scrub}
    user.name, user.id_number, user.mobile, user.email = policy.CLOSED_NAME, "", "", ""
    user.employer, user.correction_reason, user.status_note = "", "", ""
    user.status, user.status_reason, user.status_changed_at = AccountStatus.CLOSED, "", at
    user.is_active, user.session_key_hash = False, ""
    user.set_unusable_password()
    user.save()  # save(), not update(): the blind indexes are recomputed (to NULL)
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
            data = {
                "archive": row.pk,
                "user_id": row.user_id,
                "key_id": row.key_id,
                "purge_after": row.purge_after.isoformat(),
            }
            row.delete()
            audit_record("account.archive_purged", actor=None, subject=None, at=at, data=data)
            purged += 1
    return purged


def outbox_scrub_closed(*, at=None) -> int:
    """Wipe the address and text of closing confirmations once sent (or after
    CLOSING_OUTBOX_SCRUB_AFTER if the provider keeps failing). The masked address stays."""
    at = at or timezone.now()
    qs = (
        OutboundMessage.objects.filter(event=CLOSED_EVENT)
        .exclude(to="")
        .filter(Q(status=MessageStatus.SENT) | Q(created_at__lte=at - policy.CLOSING_OUTBOX_SCRUB_AFTER))
    )
    return qs.update(to="", body="", params="")  # "" is stored as is (no ciphertext to keep)
