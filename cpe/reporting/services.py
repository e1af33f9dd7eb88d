"""Every write of the reporting app. The AIS is called outside any transaction; what it said
is then applied under a row lock, audited, in one transaction."""
import logging

from django.db import transaction
from django.utils import timezone

from cpe.accounts.models import User
from cpe.accounts.states import AccountStatus, AisStatus
from cpe.core.audit import audit_record
from cpe.core.masking import mask_id_number

from . import policy
from .clients import get_client
from .clients.base import AisRejected, AisUnavailable
from .errors import ReportingError
from .models import AisExchange, AisPerson
from .states import CheckResult

log = logging.getLogger(__name__)

AIS_RECIPIENT = "内蒙古自治区会计人员信息管理系统（AIS）"
TRANSFER_PURPOSES = {
    "person_check": "核验是否已纳入会计人员信息管理系统（SPEC §1.9）",
}


def ais_exchange_record(*, at, method, path, purpose="", attempt=1, status=None, duration_ms=0,
                        request_body=None, answer_body=None, error="", idempotency_key="") -> AisExchange:
    """Store one attempt (bodies already masked by the adapter). A savepoint: a failure here
    cannot poison the caller's transaction."""
    with transaction.atomic():
        return AisExchange.objects.create(
            at=at, method=method, path=path[:300], purpose=purpose, attempt=attempt, status=status,
            duration_ms=duration_ms, request_body=request_body, answer_body=answer_body,
            error=(error or "")[:400], idempotency_key=(idempotency_key or "")[:128])


def privacy_transfer_record(*, user, purpose: str, fields: list[str], outcome: str, actor=None, ip=None,
                            at=None):
    """SPEC §14: personal data goes to the AIS only for its purpose, and each transfer is logged."""
    return audit_record("privacy.transfer", actor=actor, subject=user, ip=ip, at=at, data={
        "recipient": AIS_RECIPIENT, "purpose": purpose, "purpose_text": TRANSFER_PURPOSES.get(purpose, purpose),
        "fields": fields, "id_number": mask_id_number(user.id_number), "outcome": outcome,
    })


def ais_person_check(*, user_id: int, at=None, actor=None, ip=None, client=None) -> AisPerson:
    """Look the learner up in the AIS by ID number and name (SPEC §1.9) and record the answer:
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
            person.person_id, person.region_code, person.status = lookup.person_id, lookup.region_code, lookup.status
            person.found_at = person.found_at or at
        elif lookup is not None:
            person.status = ""                  # not found: the old person_id stays for history
        person.last_result, person.last_error, person.checked_at = result, error[:300], at
        person.save()
        audit_record("ais.person_checked", actor=actor, subject=user, ip=ip, at=at, data={
            "result": result.value, "old_status": old_status, "new_status": new_status.value,
            "person_id": person.person_id, "old_person_id": old_person_id,
            "error": error[:200],
        })
        privacy_transfer_record(user=user, purpose="person_check", fields=["id_number", "name"],
                                outcome=result.value, actor=actor, ip=ip, at=at)
        # Credits kept while the person was not found are reported once they are found
        # (SPEC §9.3): the credit outbox (issue 6, part 2) hooks in here with
        # transaction.on_commit when old_status != FOUND and new_status == FOUND.
    return person


def ais_check_after_registration(user) -> None:
    """Queue the AIS check of a newly registered learner once the registration commits (safe
    to call inside or outside the registration transaction)."""
    from .tasks import ais_person_check_task

    user_id = user.pk
    transaction.on_commit(lambda: ais_person_check_task.delay(user_id))


def ais_recheck_sweep(*, at=None, limit: int = 500) -> int:
    """Queue checks for accounts that need one again (policy.recheck_due, in SQL): never
    checked, failed more than an hour ago, not found more than a week ago. Returns how many."""
    from django.db.models import Q

    from .tasks import ais_person_check_task

    at = at or timezone.now()
    due = (Q(ais_status=AisStatus.UNKNOWN) & (Q(ais_checked_at__isnull=True)
                                              | Q(ais_checked_at__lte=at - policy.RECHECK_UNKNOWN_AFTER))
           | Q(ais_status=AisStatus.FAILED) & (Q(ais_checked_at__isnull=True)
                                               | Q(ais_checked_at__lte=at - policy.RECHECK_FAILED_AFTER))
           | Q(ais_status=AisStatus.NOT_FOUND, ais_checked_at__lte=at - policy.RECHECK_NOT_FOUND_AFTER))
    ids = list(User.objects.filter(due, is_staff=False, status=AccountStatus.ACTIVE)
               .order_by("ais_checked_at", "pk").values_list("pk", flat=True)[:limit])
    for user_id in ids:
        ais_person_check_task.delay(user_id)
    return len(ids)
