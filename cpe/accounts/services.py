"""Every write to accounts. Each service validates with policy.py, locks what it changes,
writes an audit event and schedules messages after commit."""

import base64
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TypeGuard

from django.db import IntegrityError, transaction
from django.db.models import F, Model
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from cpe.core import crypto
from cpe.core.audit import audit_record
from cpe.core.documents import absolute_url
from cpe.core.masking import mask_email, mask_id_number, mask_mobile, mask_name
from cpe.notices.models import Channel
from cpe.notices.services import message_queue

from . import hooks, policy
from .errors import AccountError
from .models import IdentityChangeRequest, IdentityDocument, LoginRecord, User, VerificationCode
from .states import (
    TRANSITIONS,
    AccountStatus,
    ChangeStatus,
    CodePurpose,
    IdentityField,
    MinorReview,
    Region,
    TerminationReason,
)


# --- verification codes ---------------------------------------------------------------------
def _code_hash(code: str) -> str:
    return salted_hmac("cpe.accounts.code", code).hexdigest()


def _recent_sends(purpose: str, target: str, at: datetime) -> list[datetime]:
    bidx = crypto.blind_index("code_target", target)
    return list(
        VerificationCode.objects.filter(
            purpose=purpose,
            target_bidx=bidx,
            created_at__gt=at - timedelta(days=1),
        ).values_list("created_at", flat=True)
    )


def _code_issue(
    *,
    purpose: str,
    target: str,
    user: User | None = None,
    at: datetime,
    length: int = policy.CODE_LENGTH,
    digits: bool = True,
) -> tuple[VerificationCode, str]:
    decision = policy.code_send_decision(_recent_sends(purpose, target, at), at)
    if not decision.allowed:
        raise AccountError(decision.code, decision.message, field="sms_code")
    code = (
        "".join(secrets.choice("0123456789") for _ in range(length)) if digits else secrets.token_urlsafe(24)
    )
    row = VerificationCode.objects.create(
        purpose=purpose, target=target, user=user, code_hash=_code_hash(code), created_at=at
    )
    return row, code


class WrongCode(AccountError):
    def __init__(self, code_id: int, field: str) -> None:
        super().__init__("wrong_code", "验证码不正确。", field=field)
        self.code_id = code_id


@contextmanager
def _counting_wrong_codes() -> Iterator[None]:
    """Count a wrong guess after the refused action's transaction has rolled back: the
    counter is the brute-force throttle, so it must survive the refusal."""
    try:
        yield
    except WrongCode as exc:
        VerificationCode.objects.filter(pk=exc.code_id).update(attempts=F("attempts") + 1)
        raise


CODE_FAILURES = frozenset({"no_code", "wrong_code", "used", "expired", "too_many_attempts"})


@contextmanager
def _neutral_code_refusal() -> Iterator[None]:
    """Where the answer must not tell whether a code was ever sent to, or used by, a number
    (registration, password reset): every code failure becomes policy.CODE_REFUSED_MESSAGE."""
    try:
        yield
    except AccountError as exc:
        if exc.code in CODE_FAILURES:
            raise AccountError("wrong_code", policy.CODE_REFUSED_MESSAGE, field=exc.field) from exc
        raise


def _code_consume(
    *, purpose: str, target: str, code: str, at: datetime, field: str = "sms_code"
) -> VerificationCode:
    """Check and use up the newest code for (purpose, target). A wrong guess is counted
    even though the caller's action is refused (the counter is the throttle)."""
    bidx = crypto.blind_index("code_target", target)
    row = (
        VerificationCode.objects.select_for_update()
        .filter(purpose=purpose, target_bidx=bidx)
        .order_by("-created_at")
        .first()
    )
    if row is None:
        raise AccountError("no_code", "请先获取验证码。", field=field)
    decision = policy.code_use_decision(
        created_at=row.created_at, consumed=row.consumed_at is not None, attempts=row.attempts, at=at
    )
    if not decision.allowed:
        raise AccountError(decision.code, decision.message, field=field)
    if not constant_time_compare(row.code_hash, _code_hash((code or "").strip())):
        raise WrongCode(row.pk, field)
    row.consumed_at = at
    row.save(update_fields=["consumed_at"])
    return row


def _sms_code_message(
    purpose: str,
    mobile: str,
    code: str,
    user: User | None = None,
    at: datetime | None = None,
    label: str | None = None,
) -> None:
    label = label or CodePurpose(purpose).label
    message_queue(
        channel=Channel.SMS,
        to=mobile,
        event=f"code.{purpose}",
        user=user,
        at=at,
        params={"code": code},  # a template-based provider's verification-code template
        body=f"【内蒙古会计继续教育】您正在{label}，验证码 {code}，"
        f"{int(policy.CODE_TTL.total_seconds() // 60)} 分钟内有效。如非本人操作请忽略。",
    )


def registration_code_send(*, mobile_raw: str, at: datetime | None = None) -> str:
    """Send the registration SMS code to any well-formed mobile, registered or not, with the same
    throttle: the answer must not tell who holds a number (PIPL Art. 28). Whether the number is
    free is told only after the code proves the phone (user_register). Returns it masked."""
    at = at or timezone.now()
    mobile, err = policy.check_mobile(mobile_raw)
    if mobile is None:
        raise AccountError("bad_mobile", err, field="mobile")
    with transaction.atomic():
        _, code = _code_issue(purpose=CodePurpose.REGISTER, target=mobile, at=at)
        _sms_code_message(CodePurpose.REGISTER, mobile, code, at=at)
    return mask_mobile(mobile)


# --- registration ---------------------------------------------------------------------------
def user_register(
    *,
    id_number: str,
    name: str,
    email: str,
    mobile: str,
    employer: str,
    region: str,
    password: str,
    sms_code: str,
    self_supporting: bool,
    agreement_version: Model | None,
    ip: str | None = None,
    user_agent: str = "",
    at: datetime | None = None,
) -> User:
    """Create a learner (rules R1.1-1.4, R2.2). Refused input changes nothing (but a used code).
    The input's own checks come first; who holds the ID number or the mobile is looked at only
    after the SMS code proves the phone (policy.registration_refusal). `agreement_version`: the
    agreements.AgreementVersion accepted (agreements sits above accounts)."""
    at = at or timezone.now()
    check = policy.check_id_number(id_number, today=policy.local_date(at))
    if not check.ok or check.birth_date is None:  # a valid number always gives the birth date
        raise AccountError(check.code, check.message, field="id_number")
    clean_name, err = policy.check_name(name)
    if clean_name is None:
        raise AccountError("bad_name", err, field="name")
    clean_mobile, err = policy.check_mobile(mobile)
    if clean_mobile is None:
        raise AccountError("bad_mobile", err, field="mobile")
    if region not in Region.values:
        raise AccountError("bad_region", "请选择会计人员信息管理地区。", field="region")
    capacity = policy.registration_capacity(check.birth_date, at, self_supporting=self_supporting)
    if not capacity.allowed:
        raise AccountError(
            capacity.code,
            capacity.message,
            field="self_supporting" if capacity.needs_declaration else "id_number",
        )
    if agreement_version is None:
        raise AccountError("no_agreement", "用户协议尚未发布，暂不能注册。")
    refusal = None
    try:
        with _neutral_code_refusal(), _counting_wrong_codes(), transaction.atomic():
            # The code first: until it proves the phone, nothing may depend on who holds the ID
            # number or the mobile. A refusal after the proof keeps the code used up (one code,
            # one look), as a wrong guess stays counted.
            _code_consume(purpose=CodePurpose.REGISTER, target=clean_mobile, code=sms_code, at=at)
            refusal = _registration_refusal(check.value, clean_mobile)
            if refusal is None:
                user = _user_create(
                    check=check,
                    name=clean_name,
                    email=email,
                    mobile=clean_mobile,
                    employer=employer,
                    region=region,
                    password=password,
                    capacity=capacity,
                    agreement_version=agreement_version,
                    ip=ip,
                    user_agent=user_agent,
                    at=at,
                )
    except IntegrityError as exc:  # a concurrent registration won the unique index
        raise AccountError("id_taken", policy.ID_TAKEN_MESSAGE, field="id_number") from exc
    if refusal is not None:
        raise AccountError(
            refusal.code,
            refusal.message,
            field="mobile" if refusal.code.startswith("mobile") else "id_number",
        )
    return user


def _holder_facts(user: User | None) -> policy.HolderFacts | None:
    if user is None:
        return None
    return policy.HolderFacts(
        status=user.status,
        status_reason=user.status_reason,
        status_reason_label=user.get_status_reason_display(),
    )


def _registration_refusal(id_number: str, mobile: str) -> policy.Decision | None:
    """policy.registration_refusal for the accounts that hold this ID number and this (proven)
    mobile; None when the registration may go ahead."""
    id_holder = User.objects.filter(id_number_bidx=crypto.blind_index("id_number", id_number)).first()
    phone_holder = User.objects.filter(mobile_bidx=crypto.blind_index("mobile", mobile)).first()
    decision = policy.registration_refusal(
        phone_holder=_holder_facts(phone_holder),
        id_holder=_holder_facts(id_holder),
        same_account=id_holder is not None and phone_holder is not None and id_holder.pk == phone_holder.pk,
    )
    return None if decision.allowed else decision


def _user_create(
    *,
    check: policy.IdCheck,
    name: str,
    email: str,
    mobile: str,
    employer: str,
    region: str,
    password: str,
    capacity: policy.CapacityDecision,
    agreement_version: Model,
    ip: str | None,
    user_agent: str,
    at: datetime,
) -> User:
    user = User(
        name=name,
        id_number=check.value,
        email=email.strip().lower(),
        mobile=mobile,
        employer=employer.strip(),
        region=region,
        mobile_verified_at=at,
        date_joined=at,
        self_supporting=capacity.needs_declaration,
        minor_review=MinorReview.PENDING if capacity.needs_declaration else MinorReview.NONE,
    )
    user.username = "u" + secrets.token_hex(6)
    user.set_password(password)
    user.save()
    audit_record(
        "account.registered",
        actor=user,
        subject=user,
        ip=ip,
        at=at,
        data={
            "id_number": mask_id_number(check.value),
            "mobile": mask_mobile(mobile),
            "email": mask_email(user.email),
            "region": region,
            "self_supporting": capacity.needs_declaration,
        },
    )
    # agreements records the acceptance; reporting checks after commit whether the person is in
    # the AIS (rules R1.9). Registered by their AppConfig.ready() (accounts.hooks).
    hooks.registered.send(user, agreement_version=agreement_version, ip=ip, user_agent=user_agent, at=at)
    if user.email:
        _email_verification_send(user, user.email, at)
    return user


# --- e-mail verification (rules R1.4: verified by a link before use for notices) ------------
def _email_verification_send(user: User, email: str, at: datetime) -> None:
    """Issue and queue one verification link. Besides the per-address throttle (_code_issue),
    the account's links to any address are bounded (policy.email_verification_send_decision):
    refused, nothing is written and nothing is sent."""
    recent = (
        list(
            VerificationCode.objects.filter(
                purpose=CodePurpose.VERIFY_EMAIL,
                user=user,
                created_at__gt=at - timedelta(days=1),
            ).values_list("created_at", flat=True)
        )
        if user is not None and user.pk
        else []
    )
    decision = policy.email_verification_send_decision(recent, at)
    if not decision.allowed:
        raise AccountError(decision.code, decision.message, field="email")
    row, token = _code_issue(purpose=CodePurpose.VERIFY_EMAIL, target=email, user=user, at=at, digits=False)

    link = absolute_url(reverse("accounts:email_confirm", args=[row.pk, token]))
    message_queue(
        channel=Channel.EMAIL,
        to=email,
        user=user,
        at=at,
        event="email.verify",
        subject="请验证您的电子邮箱",
        body=f"{user.name}，您好：\n\n请在 {int(policy.CODE_TTL.total_seconds() // 60)} 分钟内"
        f"打开以下链接验证电子邮箱：\n{link}\n\n如非本人操作，请忽略本邮件。",
    )


def email_change_request(*, user: User, new_email: str, at: datetime | None = None) -> str:
    """Send a confirmation link to the new address; nothing changes until it is opened."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    at = at or timezone.now()
    new_email = (new_email or "").strip().lower()
    try:
        validate_email(new_email)
    except ValidationError as exc:
        raise AccountError("bad_email", "请填写有效的电子邮箱地址。", field="email") from exc
    with transaction.atomic():
        _email_verification_send(user, new_email, at)
    return mask_email(new_email)


def email_confirm(*, code_id: int, token: str, at: datetime | None = None) -> User:
    at = at or timezone.now()
    with _counting_wrong_codes(), transaction.atomic():
        row = (
            VerificationCode.objects.select_for_update()
            .filter(pk=code_id, purpose=CodePurpose.VERIFY_EMAIL)
            .first()
        )
        if row is None or row.user_id is None:
            raise AccountError("bad_link", "验证链接无效。")
        _code_consume(purpose=CodePurpose.VERIFY_EMAIL, target=row.target, code=token, at=at, field="email")
        user = User.objects.select_for_update().get(pk=row.user_id)
        old = user.email
        user.email, user.email_verified_at = row.target, at
        user.save(update_fields=["email", "email_bidx", "email_verified_at"])
        audit_record(
            "account.email_changed" if old != row.target else "account.email_verified",
            actor=user,
            subject=user,
            at=at,
            data={"old": mask_email(old), "new": mask_email(row.target)},
        )
    return user


# --- mobile change (re-verified by SMS to the new number) -----------------------------------
def mobile_change_code_send(*, user: User, new_mobile_raw: str, at: datetime | None = None) -> str:
    at = at or timezone.now()
    mobile, err = policy.check_mobile(new_mobile_raw)
    if mobile is None:
        raise AccountError("bad_mobile", err, field="mobile")
    if mobile == user.mobile:
        raise AccountError("same_mobile", "新号码与当前号码相同。", field="mobile")
    # Sent whether or not another account holds the number (PIPL Art. 28): that is told only
    # once the code proves the phone (mobile_change_confirm).
    with transaction.atomic():
        _, code = _code_issue(purpose=CodePurpose.CHANGE_MOBILE, target=mobile, user=user, at=at)
        _sms_code_message(CodePurpose.CHANGE_MOBILE, mobile, code, user=user, at=at)
    return mask_mobile(mobile)


def mobile_change_confirm(*, user: User, new_mobile_raw: str, code: str, at: datetime | None = None) -> User:
    at = at or timezone.now()
    mobile, err = policy.check_mobile(new_mobile_raw)
    if mobile is None:
        raise AccountError("bad_mobile", err, field="mobile")
    try:
        with _counting_wrong_codes(), transaction.atomic():
            _code_consume(purpose=CodePurpose.CHANGE_MOBILE, target=mobile, code=code, at=at)
            if (
                User.objects.filter(mobile_bidx=crypto.blind_index("mobile", mobile))
                .exclude(pk=user.pk)
                .exists()
            ):
                raise AccountError("mobile_taken", "该手机号码已被其他账号使用。", field="mobile")
            locked = User.objects.select_for_update().get(pk=user.pk)
            old = locked.mobile
            locked.mobile, locked.mobile_verified_at = mobile, at
            locked.save(update_fields=["mobile", "mobile_bidx", "mobile_verified_at"])
            audit_record(
                "account.mobile_changed",
                actor=locked,
                subject=locked,
                at=at,
                data={"old": mask_mobile(old), "new": mask_mobile(mobile)},
            )
    except IntegrityError as exc:
        raise AccountError("mobile_taken", "该手机号码已被其他账号使用。", field="mobile") from exc
    return locked


# --- profile --------------------------------------------------------------------------------
def profile_update(*, user: User, employer: str, region: str, at: datetime | None = None) -> User:
    at = at or timezone.now()
    employer = (employer or "").strip()
    if not employer:
        raise AccountError("employer_required", "请填写工作单位。", field="employer")
    if region not in Region.values:
        raise AccountError("bad_region", "请选择会计人员信息管理地区。", field="region")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        employer_changed, old_region = locked.employer != employer, locked.region
        locked.employer, locked.region = employer, region
        locked.save(update_fields=["employer", "region"])
        # The employer's name is personal data: the audit row says that it changed, not what to.
        audit_record(
            "account.profile_updated",
            actor=locked,
            subject=locked,
            at=at,
            data={"employer_changed": employer_changed, "region": [old_region, region]},
        )
    return locked


# --- identity changes through a reviewer (rules R1.8) ----------------------------------------
def _masked_identity(field: str, value: str) -> str:
    return mask_id_number(value) if field == IdentityField.ID_NUMBER else mask_name(value)


def identity_change_request(
    *,
    user: User,
    field: str,
    new_value: str,
    reason: str,
    id_photo: bytes | None = None,
    at: datetime | None = None,
) -> IdentityChangeRequest:
    """A name or ID number change for a reviewer. `id_photo` (optional): the bytes of an ID card
    photo, at most policy.ID_PHOTO_MAX_BYTES + 1 read; kept encrypted until the decision."""
    at = at or timezone.now()
    photo_type = None
    if id_photo is not None:
        photo_type, photo_error = policy.id_photo_check(id_photo)
        if photo_type is None:
            raise AccountError("bad_id_photo", photo_error, field="id_photo")
    if field not in IdentityField.values:
        raise AccountError("bad_field", "请选择要变更的项目。", field="field")
    if not (reason or "").strip():
        raise AccountError("reason_required", "请说明变更理由（如：身份证号码录入错误）。", field="reason")
    value: str | None
    if field == IdentityField.ID_NUMBER:
        check = policy.check_id_number(new_value, today=policy.local_date(at))
        if not check.ok:
            raise AccountError(check.code, check.message, field="new_value")
        value = check.value
        if value == user.id_number:
            raise AccountError("same_value", "新身份证号码与当前相同。", field="new_value")
        # Whether another account holds it is the reviewer's to see (identity_change_conflict),
        # not the learner's: the request is taken either way (PIPL Art. 28).
    else:
        value, err = policy.check_name(new_value)
        if value is None:
            raise AccountError("bad_name", err, field="new_value")
        if value == user.name:
            raise AccountError("same_value", "新姓名与当前相同。", field="new_value")
    try:
        with transaction.atomic():
            # Serialise one learner's requests on their own row: two tabs cannot pass the limit together.
            User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).get()
            recent = list(
                IdentityChangeRequest.objects.filter(
                    user=user, created_at__gt=at - policy.IDENTITY_CHANGE_WINDOW
                ).values_list("created_at", flat=True)
            )
            decision = policy.identity_change_decision(recent, at)
            if not decision.allowed:
                raise AccountError(decision.code, decision.message)
            if IdentityChangeRequest.objects.filter(
                user=user, field=field, status=ChangeStatus.PENDING
            ).exists():
                raise AccountError(
                    "pending_exists", "已有一条同类申请在审核中，请等待审核结果。", field="field"
                )
            req = IdentityChangeRequest.objects.create(
                user=user, field=field, new_value=value, reason=reason.strip(), created_at=at
            )
            if id_photo is not None and photo_type is not None:
                IdentityDocument.objects.create(
                    request=req,
                    content_type=photo_type,
                    size=len(id_photo),
                    data=base64.b64encode(id_photo).decode("ascii"),
                    uploaded_at=at,
                )
            audit_record(
                "identity_change.requested",
                actor=user,
                subject=req,
                at=at,
                data={
                    "field": field,
                    "new": _masked_identity(field, value),
                    "id_photo": photo_type is not None,
                },
            )
    except IntegrityError as exc:
        raise AccountError("pending_exists", "已有一条同类申请在审核中。", field="field") from exc
    return req


def identity_change_decide(
    *, change_id: int, approve: bool, reviewer: User, note: str = "", at: datetime | None = None
) -> IdentityChangeRequest:
    """Apply or refuse a change. Safe against double clicks: the row is locked and only a
    pending request can be decided."""
    at = at or timezone.now()
    if not approve and not (note or "").strip():
        raise AccountError("note_required", "驳回时请填写审核意见。", field="decision_note")
    try:
        with transaction.atomic():
            req = IdentityChangeRequest.objects.select_for_update().get(pk=change_id)
            if req.status != ChangeStatus.PENDING:
                raise AccountError("already_decided", "该申请已审核。")
            user = User.objects.select_for_update().get(pk=req.user_id)
            old = getattr(user, req.field)
            if approve:
                if req.field == IdentityField.ID_NUMBER:
                    user.id_number = req.new_value
                    user.save(update_fields=["id_number", "id_number_bidx"])
                else:
                    user.name = req.new_value
                    user.save(update_fields=["name"])
            req.status = ChangeStatus.APPROVED if approve else ChangeStatus.REJECTED
            req.decided_at, req.decided_by, req.decision_note = at, reviewer, (note or "").strip()
            req.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
            # The ID card photo served its purpose: it goes with the decision.
            photo_deleted, _ = IdentityDocument.objects.filter(request=req).delete()
            if approve:
                hooks.identity_changed.send(user)  # new name/ID: reporting checks the AIS again after commit
            audit_record(
                f"identity_change.{'approved' if approve else 'rejected'}",
                actor=reviewer,
                subject=user,
                at=at,
                data={
                    "request": req.pk,
                    "field": req.field,
                    "old": _masked_identity(req.field, old),
                    "new": _masked_identity(req.field, req.new_value),
                    "note": req.decision_note,
                    "id_photo_deleted": bool(photo_deleted),
                },
            )
    except IntegrityError as exc:
        raise AccountError("id_taken", "新身份证号码已被其他账号使用，无法批准。") from exc
    return req


# --- staff holds, reviews and termination ---------------------------------------------------
def correction_hold_set(*, user_id: int, reason: str, actor: User, at: datetime | None = None) -> User:
    at = at or timezone.now()
    if not (reason or "").strip():
        raise AccountError("reason_required", "请填写需要更正的内容和原因。", field="reason")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        user.correction_reason, user.correction_set_at = reason.strip(), at
        user.save(update_fields=["correction_reason", "correction_set_at"])
        hooks.play_sessions_revoke(
            user_id=user.pk, reason="on_hold", at=at, actor=actor
        )  # studying stops now
        audit_record(
            "account.correction_hold_set",
            actor=actor,
            subject=user,
            at=at,
            data={"reason": user.correction_reason},
        )
        if user.mobile:
            message_queue(
                channel=Channel.SMS,
                to=user.mobile,
                user=user,
                at=at,
                event="account.hold",
                body="【内蒙古会计继续教育】您的注册资料需要更正，请登录平台查看原因并修改。",
            )
    return user


def correction_hold_clear(*, user_id: int, actor: User, at: datetime | None = None) -> User:
    at = at or timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if not user.correction_reason:
            return user
        old = user.correction_reason
        user.correction_reason, user.correction_set_at = "", None
        user.save(update_fields=["correction_reason", "correction_set_at"])
        audit_record(
            "account.correction_hold_cleared", actor=actor, subject=user, at=at, data={"reason": old}
        )
    return user


def minor_review_decide(
    *, user_id: int, approve: bool, reviewer: User, note: str = "", at: datetime | None = None
) -> User:
    """A 16-17-year-old's self-supporting declaration (rules R1.3): approve, or terminate the
    account for lack of capacity (agreement §1.1)."""
    at = at or timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        if user.minor_review != MinorReview.PENDING:
            raise AccountError("already_decided", "该声明已审核。")
        if not approve and not (note or "").strip():
            raise AccountError("note_required", "驳回时请填写审核意见。")
        user.minor_review = MinorReview.APPROVED if approve else MinorReview.REJECTED
        user.save(update_fields=["minor_review"])
        audit_record(
            f"account.minor_{'approved' if approve else 'rejected'}",
            actor=reviewer,
            subject=user,
            at=at,
            data={"note": note},
        )
        if not approve:
            account_terminate(
                user=user, reason=TerminationReason.NO_CAPACITY, note=note, actor=reviewer, at=at
            )
    return user


def account_terminate(
    *, user: User, reason: str, note: str = "", actor: User | None = None, at: datetime | None = None
) -> User:
    """End the service for an account (agreement §3.2): it can no longer sign in; its records stay."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if AccountStatus.TERMINATED not in TRANSITIONS[AccountStatus(locked.status)]:
            raise AccountError("bad_state", "该账号已不在服务中。")
        locked.status, locked.status_reason, locked.status_note = AccountStatus.TERMINATED, reason, note
        locked.status_changed_at, locked.is_active, locked.session_key_hash = at, False, ""
        locked.save(
            update_fields=[
                "status",
                "status_reason",
                "status_note",
                "status_changed_at",
                "is_active",
                "session_key_hash",
            ]
        )
        hooks.play_sessions_revoke(
            user_id=locked.pk, reason="terminated", at=at, actor=actor
        )  # its players stop now
        audit_record(
            "account.terminated", actor=actor, subject=locked, at=at, data={"reason": reason, "note": note}
        )
        # SMS and e-mail: the reason, how to object, and (unreachable contact details) how to come
        # back (moderation.services.termination_notify).
        hooks.terminated.send(
            locked, at, restorable=policy.account_restorable(status=locked.status, status_reason=reason)
        )
    user.status, user.is_active = locked.status, False
    return locked


# --- coming back after a termination for unreachable contact details (agreement §3.2) -----------
RESTORE_LABEL = "恢复账号服务"


def _restorable_locked(user_id: int) -> User:
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None or not policy.account_restorable(status=user.status, status_reason=user.status_reason):
        raise AccountError(
            "not_restorable", "该账号不能自助恢复服务，请联系客服（页面底部有客服电话和邮箱）。"
        )
    return user


def account_restore_code_send(*, user_id: int, mobile_raw: str, at: datetime | None = None) -> str:
    """Send a code to the mobile the person wants to be reached at, for an account terminated
    for unreachable contact details whose password they have just proved (the view holds that
    proof for policy.RESTORE_WINDOW). Sent whether or not the number is taken: that is told after
    the code proves the phone. Returns it masked."""
    at = at or timezone.now()
    mobile, err = policy.check_mobile(mobile_raw)
    if mobile is None:
        raise AccountError("bad_mobile", err, field="mobile")
    with transaction.atomic():
        user = _restorable_locked(user_id)
        _, code = _code_issue(purpose=CodePurpose.CHANGE_MOBILE, target=mobile, user=user, at=at)
        _sms_code_message(CodePurpose.CHANGE_MOBILE, mobile, code, user=user, at=at, label=RESTORE_LABEL)
    return mask_mobile(mobile)


def account_restore(*, user_id: int, mobile_raw: str, code: str, at: datetime | None = None) -> User:
    """Restore the service of an account terminated for unreachable contact details: the code
    proves a reachable mobile, which becomes the account's (agreement §3.2(2): the ground is gone).
    Audited; the learner is told by SMS. Refused (nothing changed) for any other state."""
    at = at or timezone.now()
    mobile, err = policy.check_mobile(mobile_raw)
    if mobile is None:
        raise AccountError("bad_mobile", err, field="mobile")
    try:
        with _counting_wrong_codes(), transaction.atomic():
            locked = _restorable_locked(user_id)
            row = _code_consume(purpose=CodePurpose.CHANGE_MOBILE, target=mobile, code=code, at=at)
            if row.user_id != locked.pk:
                raise AccountError("no_code", "请先获取验证码。", field="sms_code")
            if (
                User.objects.filter(mobile_bidx=crypto.blind_index("mobile", mobile))
                .exclude(pk=locked.pk)
                .exists()
            ):
                raise AccountError(
                    "mobile_taken", "该手机号码已被其他账号使用，请换一个号码。", field="mobile"
                )
            old_reason, old_mobile = locked.status_reason, locked.mobile
            locked.status, locked.status_reason, locked.status_note = AccountStatus.ACTIVE, "", ""
            locked.status_changed_at, locked.is_active = at, True
            locked.mobile, locked.mobile_verified_at = mobile, at
            locked.save(
                update_fields=[
                    "status",
                    "status_reason",
                    "status_note",
                    "status_changed_at",
                    "is_active",
                    "mobile",
                    "mobile_bidx",
                    "mobile_verified_at",
                ]
            )
            audit_record(
                "account.restored",
                actor=locked,
                subject=locked,
                at=at,
                data={
                    "reason": old_reason,
                    "old_mobile": mask_mobile(old_mobile),
                    "new_mobile": mask_mobile(mobile),
                },
            )
            message_queue(
                channel=Channel.SMS,
                to=mobile,
                user=locked,
                at=at,
                event="account.restored",
                body="【内蒙古会计继续教育】您的账号已恢复服务，今后的通知将发送至本手机号码。",
            )
    except IntegrityError as exc:
        raise AccountError(
            "mobile_taken", "该手机号码已被其他账号使用，请换一个号码。", field="mobile"
        ) from exc
    return locked


# --- sessions: one active session per account (rules R1.7) -----------------------------------
def session_begin(
    *, user: User, session_key: str, ip: str | None = None, user_agent: str = "", at: datetime | None = None
) -> LoginRecord:
    """Make ``session_key`` the account's one current session. Only its keyed hash is stored."""
    at = at or timezone.now()
    device_key = hashlib.sha256((user_agent or "").encode()).hexdigest()[:16]
    digest = crypto.blind_index("session_key", session_key)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        ended_other = bool(locked.session_key_hash) and locked.session_key_hash != digest
        seen_before = LoginRecord.objects.filter(user=locked, refused=False).exists()
        new_device = (
            seen_before
            and not LoginRecord.objects.filter(user=locked, device_key=device_key, refused=False).exists()
        )
        locked.session_key_hash = digest
        locked.last_login = at
        locked.save(update_fields=["session_key_hash", "last_login"])
        record = LoginRecord.objects.create(
            user=locked,
            at=at,
            ip=ip,
            user_agent=(user_agent or "")[:300],
            device_key=device_key,
            is_new_device=new_device,
            ended_other_session=ended_other,
        )
        audit_record(
            "account.login",
            actor=locked,
            subject=locked,
            ip=ip,
            at=at,
            data={"new_device": new_device, "ended_other_session": ended_other},
        )
    user.session_key_hash = digest
    return record


def session_key_rotated(*, user: User, session_key: str) -> None:
    """After a password change Django gives the session a new key: keep it the current one."""
    digest = crypto.blind_index("session_key", session_key)
    User.objects.filter(pk=user.pk).update(session_key_hash=digest)
    user.session_key_hash = digest


# --- password change by the signed-in learner ------------------------------------------------
def password_change(
    *, user: User, current_password: str, new_password: str, ip: str | None = None, at: datetime | None = None
) -> User:
    """修改密码: the current password proves the person; the new one (already checked by the
    project's validators in the form) replaces it. Every play token of the account is revoked,
    an audit event is written (never a password) and an SMS notice is queued. A wrong current
    password changes nothing. The caller then rotates this browser's session key and makes the
    new key the account's current one (session_key_rotated): every other session is signed out
    (Django's session hash follows the password; the single-session check follows the key)."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.check_password(current_password or ""):
            raise AccountError(
                "wrong_password", policy.WRONG_CURRENT_PASSWORD_MESSAGE, field="current_password"
            )
        if locked.check_password(new_password or ""):
            raise AccountError("same_password", policy.SAME_PASSWORD_MESSAGE, field="new_password")
        # "session_elsewhere": every web session but this one ends, and this one gets a new key,
        # which the play tokens are bound to; the player says "已在其他地方登录或已退出".
        revoked = hooks.play_sessions_revoke(
            user_id=locked.pk, reason="session_elsewhere", at=at, actor=locked
        )
        locked.set_password(new_password)
        locked.save(update_fields=["password"])
        audit_record(
            "account.password_changed",
            actor=locked,
            subject=locked,
            ip=ip,
            at=at,
            data={"play_sessions_revoked": revoked},
        )
        if locked.mobile:
            message_queue(
                channel=Channel.SMS,
                to=locked.mobile,
                user=locked,
                at=at,
                event="account.password_changed",
                body=policy.PASSWORD_CHANGED_SMS,
            )
    user.password = locked.password
    return locked


# --- sign-in failures per typed identifier, across addresses (policy.LOGIN_*) ---------------
def _login_failure_key(identifier: str) -> str:
    bidx = crypto.blind_index("login_identifier", policy.login_identifier_normalised(identifier))
    return f"accounts:login_failures:{bidx}"


def login_failures(identifier: str) -> int:
    """Recent sign-in failures for this identifier, from any address (the cache)."""
    from django.core.cache import cache

    return int(cache.get(_login_failure_key(identifier)) or 0)


def login_failure_record(identifier: str) -> int:
    """Count one failed sign-in for the typed identifier, known account or not (only its keyed
    hash is the key). The count lives in the cache (Redis in production, atomic INCR) and
    lapses LOGIN_FAILURE_WINDOW after the last failure. Returns the new count."""
    from django.core.cache import cache

    key, window = _login_failure_key(identifier), int(policy.LOGIN_FAILURE_WINDOW.total_seconds())
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        count = cache.incr(key)
    except ValueError:  # lapsed between add and incr
        cache.add(key, 1, timeout=window)
        return 1
    cache.touch(key, timeout=window)
    return count


# --- password reset by SMS (rules R1.6) ------------------------------------------------------
def _find_by_identifier(identifier: str) -> User | None:
    from .auth import user_for_identifier

    return user_for_identifier(identifier)


def _resettable(user: User | None) -> TypeGuard[User]:
    """A learner account in service with a mobile. Staff accounts are not reset through the
    learners' page (their sign-in is the staff site's business): they get the unknown answer."""
    return user is not None and user.is_active and not user.is_staff and bool(user.mobile)


def password_reset_code_send(*, identifier: str, at: datetime | None = None) -> str:
    """Send a reset code to the account's mobile. Every identifier gets the same answer, known or
    unknown, staff or learner, throttled or not (no account enumeration, PIPL Art. 28): a code
    is sent only to an account that may reset, and only when the throttle allows."""
    at = at or timezone.now()
    user = _find_by_identifier(identifier)
    if _resettable(user):
        try:
            with transaction.atomic():
                _, code = _code_issue(
                    purpose=CodePurpose.RESET_PASSWORD, target=user.mobile, user=user, at=at
                )
                _sms_code_message(CodePurpose.RESET_PASSWORD, user.mobile, code, user=user, at=at)
        except AccountError:
            pass  # throttled: nothing sent, and the answer does not say so (it would tell the account exists)
    return policy.PASSWORD_RESET_SENT_MESSAGE.format(minutes=int(policy.CODE_TTL.total_seconds() // 60))


def _password_validate(password: str, user: User) -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise AccountError("weak_password", "".join(exc.messages), field="password") from exc


def password_reset_confirm(
    *, identifier: str, code: str, new_password: str, at: datetime | None = None
) -> User:
    """Set a new password with the code sent to the account's mobile. Every failure (unknown or
    staff account, no code, wrong, used, expired, too many guesses) gets one answer."""
    at = at or timezone.now()
    user = _find_by_identifier(identifier)
    if not _resettable(user):
        raise AccountError("wrong_code", policy.CODE_REFUSED_MESSAGE, field="sms_code")
    with _neutral_code_refusal(), _counting_wrong_codes(), transaction.atomic():
        _code_consume(purpose=CodePurpose.RESET_PASSWORD, target=user.mobile, code=code, at=at)
        locked = User.objects.select_for_update().get(pk=user.pk)
        # Only now that the code proved the phone may the answer depend on the account's data
        # (a password built from its holder's name, ID number or mobile); refusing rolls the
        # code's use back, so the learner tries another password with the same code.
        _password_validate(new_password, locked)
        locked.set_password(new_password)
        locked.session_key_hash = ""
        locked.save(update_fields=["password", "session_key_hash"])
        audit_record("account.password_reset", actor=locked, subject=locked, at=at)
    return locked
