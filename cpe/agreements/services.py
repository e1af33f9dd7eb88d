from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from cpe.accounts.services import account_terminate
from cpe.accounts.states import TerminationReason
from cpe.core.audit import audit_record
from cpe.core.errors import ApplicationError

from . import selectors
from .models import AgreementAcceptance, AgreementVersion, Decision
from .policy import text_hash

if TYPE_CHECKING:
    from cpe.accounts.models import User


def agreement_publish(
    *,
    version: str,
    title: str,
    body: str,
    effective_at: datetime,
    is_minor: bool,
    summary: str = "",
    actor: User | None = None,
    at: datetime | None = None,
) -> AgreementVersion:
    """Publish a new text. A minor edit amends the major version in force at its effective
    time and needs no new acceptance (rules R2.1)."""
    at = at or timezone.now()
    if not body.strip():
        raise ApplicationError("empty_body", "协议正文不能为空。", field="body")
    if AgreementVersion.objects.filter(version=version).exists():
        raise ApplicationError("duplicate_version", f"版本号 {version} 已存在。", field="version")
    with transaction.atomic():
        amends = None
        if is_minor:
            amends = selectors.version_required(effective_at)
            if amends is None:
                raise ApplicationError(
                    "minor_without_major", "尚无生效的协议版本，勘误版无可更正的对象。", field="is_minor"
                )
        v = AgreementVersion.objects.create(
            version=version,
            title=title,
            body=body,
            text_hash=text_hash(title, body),
            is_minor=is_minor,
            amends=amends,
            summary=summary,
            published_at=at,
            effective_at=effective_at,
            published_by=actor,
        )
        audit_record(
            "agreement.published",
            actor=actor,
            subject=v,
            at=at,
            data={
                "version": version,
                "is_minor": is_minor,
                "text_hash": v.text_hash,
                "effective_at": effective_at.isoformat(),
            },
        )
    return v


def _decide(
    user: User, version: AgreementVersion, decision: str, ip: str | None, user_agent: str, at: datetime
) -> AgreementAcceptance:
    row = AgreementAcceptance.objects.create(
        user=user,
        version=version,
        major_version_id=version.major_id,
        decision=decision,
        text_hash=version.text_hash,
        at=at,
        ip=ip,
        user_agent=(user_agent or "")[:300],
    )
    audit_record(
        f"agreement.{decision}",
        actor=user,
        subject=row,
        ip=ip,
        at=at,
        data={
            "version": version.version,
            "text_hash": version.text_hash,
        },
    )
    return row


def agreement_accept(
    *,
    user: User,
    version: AgreementVersion,
    ip: str | None = None,
    user_agent: str = "",
    at: datetime | None = None,
) -> AgreementAcceptance:
    """Record an acceptance (never overwriting an earlier one)."""
    at = at or timezone.now()
    if version.effective_at > at:
        raise ApplicationError("not_effective", "该协议版本尚未生效。")
    with transaction.atomic():
        return _decide(user, version, Decision.ACCEPTED, ip, user_agent, at)


def agreement_decline(
    *,
    user: User,
    version: AgreementVersion,
    ip: str | None = None,
    user_agent: str = "",
    at: datetime | None = None,
) -> AgreementAcceptance:
    """Declining a new version ends the service for the account (agreement §3.2(4), rules R2.3)."""

    at = at or timezone.now()
    with transaction.atomic():
        row = _decide(user, version, Decision.DECLINED, ip, user_agent, at)
        account_terminate(
            user=user,
            reason=TerminationReason.REFUSED_AGREEMENT,
            note=f"不接受用户协议 v{version.version}",
            actor=user,
            at=at,
        )
    return row
