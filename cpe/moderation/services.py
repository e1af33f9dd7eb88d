"""Every write of moderation (rules R12): staff terminations, bans and their lifting. Each checks
policy.py first (a refusal changes nothing), writes inside a transaction and audits."""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cpe.accounts import personal_data
from cpe.accounts import policy as accounts_policy
from cpe.accounts.auth import user_for_identifier
from cpe.accounts.errors import AccountError
from cpe.accounts.models import LoginRecord, User
from cpe.accounts.services import (
    _code_consume,
    _code_issue,
    _counting_wrong_codes,
    _sms_code_message,
    account_terminate,
)
from cpe.accounts.states import CodePurpose
from cpe.core.audit import audit_record
from cpe.core.datefmt import local_datetime
from cpe.learning.services import play_sessions_revoke
from cpe.notices.models import Channel
from cpe.notices.services import message_queue

from . import policy, selectors
from .errors import ModerationError
from .models import Ban
from .selectors import forget_bans
from .states import BanKind


def _raise_first(errors: dict) -> None:
    if errors:
        field, message = next(iter(errors.items()))
        raise ModerationError(f"bad_{field}", message, field=field)


def learner_terminate(
    *, user_id: int, reason: str, note: str = "", actor: User, at: datetime | None = None
) -> User:
    """Staff end a learner's service on one of the agreement's grounds (agreement §3.2, rules R12). The
    write, the audit event and the SMS to the learner are accounts' `account_terminate`."""

    at = at or timezone.now()
    note = (note or "").strip()
    _raise_first(policy.termination_errors(reason=reason, note=note))
    user = User.objects.filter(pk=user_id).first()
    if user is None or user.is_staff:
        raise ModerationError("not_learner", "只能终止学员账号的服务。")
    return account_terminate(user=user, reason=reason, note=note, actor=actor, at=at)


def _ban_create(
    *,
    kind: str,
    user: User | None = None,
    network: str = "",
    reason: str,
    ends_at: datetime | None,
    actor: User,
    at: datetime,
    ip: str | None,
) -> Ban:
    with transaction.atomic():
        ban = Ban.objects.create(
            kind=kind,
            user=user,
            network=network,
            reason=reason.strip(),
            starts_at=at,
            ends_at=ends_at,
            created_by=actor,
            created_at=at,
        )
        audit_record(
            "moderation.banned",
            actor=actor,
            subject=user if user is not None else ban,
            ip=ip,
            at=at,
            data={
                "ban": ban.pk,
                "kind": kind,
                "network": network,
                "reason": ban.reason[:200],
                "ends_at": ends_at.isoformat() if ends_at else None,
            },
        )
        transaction.on_commit(forget_bans)  # other requests of this process see it at once
    return ban


def ban_account(
    *,
    user_id: int,
    reason: str,
    ends_at: datetime | None = None,
    actor: User,
    at: datetime | None = None,
    ip: str | None = None,
) -> Ban:
    """Ban one learner's account (rules R12): from its next request its session ends and every
    page but the open ones (policy.BAN_OPEN_PATHS) shows the ban."""
    at = at or timezone.now()
    _raise_first(policy.ban_errors(reason=reason, starts_at=at, ends_at=ends_at, at=at))
    user = User.objects.filter(pk=user_id).first()
    if user is None or user.is_staff:
        raise ModerationError("not_learner", "只能封禁学员账号；工作人员账号请在“用户”中停用。")

    with transaction.atomic():  # the ban revokes the account's play tokens at once (a replay earns nothing)
        play_sessions_revoke(
            user_id=user.pk, reason="banned", at=at, actor=actor
        )  # first: locks as play_start
        ban = _ban_create(
            kind=BanKind.ACCOUNT, user=user, reason=reason, ends_at=ends_at, actor=actor, at=at, ip=ip
        )
        _ban_notify(user, ban, at)
    return ban


SANCTION_SUBJECT = "内蒙古会计继续教育平台：账号处置通知"


def sanction_notify(user: User, event: str, at: datetime, *, sms: str, email: str) -> None:
    """Tell a sanctioned learner (rules R12) through the outbox, in the caller's transaction: SMS
    to the mobile, e-mail when the address is verified (rules R1.4)."""

    if user.mobile:
        message_queue(channel=Channel.SMS, to=user.mobile, user=user, at=at, event=event, body=sms)
    if user.email and user.email_verified_at:
        message_queue(
            channel=Channel.EMAIL,
            to=user.email,
            user=user,
            at=at,
            event=event,
            subject=SANCTION_SUBJECT,
            body=f"{user.name}，您好：\n\n{email}",
        )


def termination_notify(user: User, at: datetime, *, restorable: bool = False) -> None:
    """Tell a learner their service was ended (agreement §3.2, rules R12): the reason and how to object.
    Called by accounts' `account_terminate` inside its transaction."""
    reason = policy.termination_reason_text(reason=user.status_reason, note=user.status_note)
    texts = {
        sms: policy.termination_notice(
            reason_text=reason,
            phone=settings.SUPPORT_PHONE,
            email=settings.SUPPORT_EMAIL,
            sms=sms,
            restorable=restorable,
        )
        for sms in (True, False)
    }
    sanction_notify(user, "account.terminated", at, sms=texts[True], email=texts[False])


def _ban_notify(user: User, ban: Ban, at: datetime) -> None:
    until = local_datetime(ban.ends_at) if ban.ends_at else None
    texts = {
        sms: policy.ban_notice(
            reason=ban.reason,
            until=until,
            phone=settings.SUPPORT_PHONE,
            email=settings.SUPPORT_EMAIL,
            sms=sms,
        )
        for sms in (True, False)
    }
    sanction_notify(user, "account.banned", at, sms=texts[True], email=texts[False])


def ban_network(
    *,
    network: str,
    reason: str,
    ends_at: datetime | None = None,
    actor: User,
    at: datetime | None = None,
    ip: str | None = None,
) -> Ban:
    """Ban an IP address or CIDR range, IPv4 or IPv6 (rules R12)."""
    at = at or timezone.now()
    net, message = policy.parse_network(network)
    errors = {} if net is not None else {"network": message}
    errors.update(policy.ban_errors(reason=reason, starts_at=at, ends_at=ends_at, at=at))
    _raise_first(errors)
    return _ban_create(
        kind=BanKind.NETWORK, network=str(net), reason=reason, ends_at=ends_at, actor=actor, at=at, ip=ip
    )


def ban_login_refuse(
    *, user: User, ip: str | None = None, user_agent: str = "", at: datetime | None = None
) -> LoginRecord | None:
    """A correct password for an account under a ban (rules R12): recorded as a refused sign-in
    (the learner's login history and the audit log say so), never as a sign-in, and the
    account's current session is left as it is. Returns the record, or None when no ban is in
    force (then the caller signs in as usual). The response is BanMiddleware's ban page."""
    import hashlib

    at = at or timezone.now()
    if user.is_staff:
        return None
    ban = selectors.account_ban_for(user.pk, at)
    if ban is None:
        return None
    with transaction.atomic():
        record = LoginRecord.objects.create(
            user=user,
            at=at,
            ip=ip,
            user_agent=(user_agent or "")[:300],
            refused=True,
            device_key=hashlib.sha256((user_agent or "").encode()).hexdigest()[:16],
        )
        audit_record(
            "account.login_refused",
            actor=user,
            subject=user,
            ip=ip,
            at=at,
            data={"why": "banned", "ban": ban.id},
        )
    return record


def ban_lift(
    *, ban_id: int, actor: User, note: str = "", at: datetime | None = None, ip: str | None = None
) -> Ban:
    """Lift a ban now; the row stays, with who lifted it, when and why."""
    at = at or timezone.now()
    with transaction.atomic():
        ban = Ban.objects.select_for_update().filter(pk=ban_id).first()
        if ban is None:
            raise ModerationError("not_found", "找不到该封禁记录。")
        if ban.lifted_at is not None or not policy.ban_active(
            starts_at=min(ban.starts_at, at), ends_at=ban.ends_at, lifted_at=None, at=at
        ):
            raise ModerationError("not_active", "该封禁已解除或已到期。")
        ban.lifted_at, ban.lifted_by, ban.lift_note = at, actor, (note or "").strip()
        ban.save(update_fields=["lifted_at", "lifted_by", "lift_note"])
        audit_record(
            "moderation.ban_lifted",
            actor=actor,
            subject=ban.user if ban.user_id else ban,
            ip=ip,
            at=at,
            data={"ban": ban.pk, "kind": ban.kind, "network": ban.network, "note": ban.lift_note[:200]},
        )
        transaction.on_commit(forget_bans)
    return ban


# --- a sanctioned person's copy of their data (PIPL Art. 45; policy.sanctioned_copy_allowed) -----
def _sanctioned_account(identifier: str, at: datetime) -> User | None:
    user = user_for_identifier(identifier)
    if user is None:
        return None
    allowed = policy.sanctioned_copy_allowed(
        status=user.status,
        banned=selectors.account_ban_for(user.pk, at) is not None,
        is_staff=user.is_staff,
        mobile_verified=bool(user.mobile and user.mobile_verified_at),
    )
    return user if allowed else None


def sanctioned_copy_code_send(*, identifier: str, at: datetime | None = None) -> str:
    """Send an SMS code to the verified mobile of a banned or terminated account. Any other
    identifier gets the same answer and nothing is sent (no account enumeration)."""

    at = at or timezone.now()
    user = _sanctioned_account(identifier, at)
    if user is not None:
        with transaction.atomic():
            _, code = _code_issue(purpose=CodePurpose.SANCTIONED_COPY, target=user.mobile, user=user, at=at)
            _sms_code_message(CodePurpose.SANCTIONED_COPY, user.mobile, code, user=user, at=at)
    return policy.SANCTIONED_COPY_SENT_MESSAGE


def sanctioned_copy_export(
    *, identifier: str, code: str, ip: str | None = None, at: datetime | None = None
) -> personal_data.PersonalDataFile:
    """The personal-data ZIP for a banned or terminated account's holder who proved its mobile
    with the code just sent. A wrong code is counted (the brute-force throttle) and nothing is
    built; the export is audited as the signed-in download is, marked as taken this way."""

    at = at or timezone.now()
    user = _sanctioned_account(identifier, at)
    if user is None:
        raise AccountError("wrong_code", "验证码不正确。", field="sms_code")
    with _counting_wrong_codes(), transaction.atomic():
        _code_consume(purpose=CodePurpose.SANCTIONED_COPY, target=user.mobile, code=code, at=at)
        content = personal_data.personal_data_build(user, at=at)
        audit_record(
            "account.personal_data_exported",
            actor=user,
            subject=user,
            ip=ip,
            at=at,
            data={"format": "zip", "bytes": len(content), "via": "sanctioned_sms_code"},
        )
    name, ascii_name = accounts_policy.personal_data_filenames(at)
    return personal_data.PersonalDataFile(name, ascii_name, content)
