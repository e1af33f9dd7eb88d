"""The staff second factor: enrolment, verification, reset (docs/security.md, "Staff second
factor"; the rules are in policy.py). Every write is here; the views only parse and render.

Stored: the TOTP key encrypted (``EncryptedTextField``), recovery codes as keyed hashes
(HMAC with the field index key and the account id), the failure count. Never stored: a code,
a recovery code in clear, the key in clear."""

import base64
import secrets
from urllib.parse import quote, urlencode

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django_otp.oath import TOTP

from cpe.core import crypto
from cpe.core.audit import audit_record

from . import policy
from .errors import AccountError
from .models import StaffRecoveryCode, StaffSecondFactor, User

ISSUER = "内蒙古会计继续教育"
DEVICE_NAME = "身份验证器"


class SecondFactorError(AccountError):
    """A refused second-factor action; nothing was changed (except the failure count)."""


# --- reading -----------------------------------------------------------------------------------
def factor_for(user) -> StaffSecondFactor | None:
    return StaffSecondFactor.objects.filter(user=user).first()


def key_bytes(factor: StaffSecondFactor) -> bytes:
    return base64.b32decode(factor.key)


def key_text(factor: StaffSecondFactor) -> str:
    """The key as an authenticator app takes it by hand: base32 in groups of four."""
    return " ".join(factor.key[i : i + 4] for i in range(0, len(factor.key), 4))


def provisioning_uri(factor: StaffSecondFactor) -> str:
    """otpauth:// URI (Google Authenticator's key URI format), for the QR code."""
    label = quote(f"{ISSUER}:{factor.user.username}")
    params = urlencode(
        {
            "secret": factor.key,
            "issuer": ISSUER,
            "algorithm": "SHA1",
            "digits": policy.TOTP_DIGITS,
            "period": policy.TOTP_STEP_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{params}"


def _totp(factor: StaffSecondFactor, at) -> TOTP:
    totp = TOTP(key_bytes(factor), step=policy.TOTP_STEP_SECONDS, digits=policy.TOTP_DIGITS)
    totp.time = at.timestamp()
    return totp


def current_code(factor: StaffSecondFactor, at=None) -> str:
    """The code an authenticator shows now (or the next one, when this step was already used):
    for the demo command and the tests, never shown by the site."""
    totp = _totp(factor, at or timezone.now())
    if totp.t() <= factor.last_step:
        totp.drift = factor.last_step + 1 - totp.t()
    return str(totp.token()).zfill(policy.TOTP_DIGITS)


def recovery_codes_left(factor: StaffSecondFactor) -> int:
    return factor.recovery_codes.filter(used_at__isnull=True).count()


def _recovery_hash(user_id: int, normalised: str) -> str:
    return crypto.blind_index("staff_recovery_code", f"{user_id}:{normalised}")


# --- writing -----------------------------------------------------------------------------------
def _staff(user) -> None:
    if user is None or not user.is_authenticated or not user.is_staff:
        raise SecondFactorError("not_staff", policy.SECOND_FACTOR_NOT_STAFF_MESSAGE)


def enrol_start(*, user, at=None) -> StaffSecondFactor:
    """The staff member's unconfirmed factor with its key (made on first call, the same key on
    later calls, so a reload does not invalidate a key already scanned)."""
    _staff(user)
    at = at or timezone.now()
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        factor = StaffSecondFactor.objects.filter(user=user).first()
        if factor is not None and factor.confirmed:
            raise SecondFactorError("enrolled", policy.SECOND_FACTOR_ENROLLED_ALREADY_MESSAGE)
        if factor is None:
            key = base64.b32encode(secrets.token_bytes(policy.TOTP_KEY_BYTES)).decode()
            factor = StaffSecondFactor.objects.create(
                user=user, name=DEVICE_NAME, key=key, confirmed=False, created_at=at
            )
    return factor


def _check_wait(factor: StaffSecondFactor, at) -> None:
    until = policy.second_factor_wait(failures=factor.failures, last_failure_at=factor.last_failure_at, at=at)
    if until is not None:
        shown = date_format(timezone.localtime(until), "Y-m-d H:i:s")
        raise SecondFactorError(
            "throttled", policy.SECOND_FACTOR_LOCKED_MESSAGE.format(until=shown), field="code"
        )


def _totp_step(factor: StaffSecondFactor, digits: str, at) -> int | None:
    totp = _totp(factor, at)
    if totp.verify(int(digits), tolerance=policy.TOTP_TOLERANCE_STEPS, min_t=factor.last_step + 1):
        return totp.t()
    return None


def _attempt(*, user, raw_code: str, at, enrolling: bool):
    """Check one code against the locked factor (unconfirmed when enrolling, confirmed
    otherwise). Returns (factor, kind). A wrong code is counted (committed), then refused."""
    kind, value = policy.second_factor_code_kind(raw_code)
    refused = None
    with transaction.atomic():
        factor = StaffSecondFactor.objects.select_for_update().filter(user=user).first()
        if factor is None:
            raise SecondFactorError("no_factor", policy.SECOND_FACTOR_WRONG_MESSAGE, field="code")
        if factor.confirmed == enrolling:
            raise SecondFactorError(
                "enrolled" if enrolling else "not_enrolled",
                policy.SECOND_FACTOR_ENROLLED_ALREADY_MESSAGE
                if enrolling
                else policy.SECOND_FACTOR_WRONG_MESSAGE,
                field="code",
            )
        _check_wait(factor, at)
        if not kind or (enrolling and kind != "totp"):
            refused = SecondFactorError("shape", policy.SECOND_FACTOR_SHAPE_MESSAGE, field="code")
            ok = False
        elif kind == "totp":
            step = _totp_step(factor, value, at)
            ok = step is not None
            if ok:
                factor.last_step = step
        else:
            code = (
                factor.recovery_codes.select_for_update()
                .filter(code_hash=_recovery_hash(user.pk, value), used_at__isnull=True)
                .first()
            )
            ok = code is not None
            if ok:
                code.used_at = at
                code.save(update_fields=["used_at"])
        if not ok:
            factor.failures += 1
            factor.last_failure_at = at
            factor.save(update_fields=["failures", "last_failure_at"])
        else:
            factor.failures = 0
            factor.last_failure_at = None
            factor.last_used_at = at
            factor.save(update_fields=["failures", "last_failure_at", "last_step", "last_used_at"])
    if not ok:
        raise refused or SecondFactorError("wrong_code", policy.SECOND_FACTOR_WRONG_MESSAGE, field="code")
    return factor, kind


def enrol_confirm(*, user, code: str, ip=None, at=None) -> tuple[StaffSecondFactor, list[str]]:
    """Confirm the new key with a code from the app; issue the recovery codes. Returns them in
    clear for the one page that shows them: only their hashes are stored."""
    _staff(user)
    at = at or timezone.now()
    factor, _ = _attempt(user=user, raw_code=code, at=at, enrolling=True)
    with transaction.atomic():
        factor = StaffSecondFactor.objects.select_for_update().get(pk=factor.pk)
        factor.confirmed = True
        factor.confirmed_at = at
        factor.save(update_fields=["confirmed", "confirmed_at"])
        codes = _issue_recovery_codes(factor)
        audit_record(
            "staff.second_factor_enrolled",
            actor=user,
            subject=user,
            ip=ip,
            at=at,
            data={"recovery_codes": len(codes)},
        )
    return factor, codes


def _issue_recovery_codes(factor: StaffSecondFactor) -> list[str]:
    factor.recovery_codes.all().delete()
    length = policy.RECOVERY_CODE_GROUPS * policy.RECOVERY_CODE_GROUP_LENGTH
    codes = set()
    while len(codes) < policy.RECOVERY_CODE_COUNT:
        codes.add("".join(secrets.choice(policy.RECOVERY_CODE_ALPHABET) for _ in range(length)))
    StaffRecoveryCode.objects.bulk_create(
        StaffRecoveryCode(factor=factor, code_hash=_recovery_hash(factor.user_id, c)) for c in codes
    )
    return sorted(policy.recovery_code_display(c) for c in codes)


def verify(*, user, code: str, ip=None, at=None) -> tuple[StaffSecondFactor, str]:
    """Check a TOTP code or a recovery code for this session. Returns (factor, "totp" or
    "recovery"). A recovery code is used up and audited."""
    _staff(user)
    at = at or timezone.now()
    factor, kind = _attempt(user=user, raw_code=code, at=at, enrolling=False)
    if kind == "recovery":
        audit_record(
            "staff.recovery_code_used",
            actor=user,
            subject=user,
            ip=ip,
            at=at,
            data={"left": recovery_codes_left(factor)},
        )
    return factor, kind


def recovery_codes_renew(*, user, ip=None, at=None) -> list[str]:
    """New recovery codes for a verified staff member (the old ones stop working)."""
    _staff(user)
    at = at or timezone.now()
    with transaction.atomic():
        factor = StaffSecondFactor.objects.select_for_update().filter(user=user, confirmed=True).first()
        if factor is None:
            raise SecondFactorError("no_factor", policy.SECOND_FACTOR_WRONG_MESSAGE)
        codes = _issue_recovery_codes(factor)
        audit_record(
            "staff.recovery_codes_renewed",
            actor=user,
            subject=user,
            ip=ip,
            at=at,
            data={"recovery_codes": len(codes)},
        )
    return codes


def reset(*, actor, user, ip=None, at=None) -> bool:
    """A superuser removes another staff member's factor (lost phone and codes): their sessions
    lose their verification at once and the next sign-in enrols again. Audited. Returns whether
    there was a factor to remove."""
    at = at or timezone.now()
    if actor is None or not actor.is_superuser:
        raise SecondFactorError("not_superuser", policy.SECOND_FACTOR_RESET_NOT_SUPERUSER_MESSAGE)
    if actor.pk == user.pk:
        raise SecondFactorError("self", policy.SECOND_FACTOR_RESET_SELF_MESSAGE)
    if not user.is_staff:
        raise SecondFactorError("not_staff", policy.SECOND_FACTOR_RESET_NOT_STAFF_MESSAGE)
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        deleted, _ = StaffSecondFactor.objects.filter(user=user).delete()
        audit_record(
            "staff.second_factor_reset",
            actor=actor,
            subject=user,
            ip=ip,
            at=at,
            data={"had_factor": bool(deleted)},
        )
    return bool(deleted)


def demo_enrol(*, user, at=None) -> StaffSecondFactor:
    """The demo seed's staff accounts: a confirmed factor with a random key (no recovery codes),
    so that `make run` can print the current code (manage.py staff_otp_code). Idempotent."""
    factor = enrol_start(user=user, at=at) if factor_for(user) is None else factor_for(user)
    if not factor.confirmed:
        factor.confirmed = True
        factor.confirmed_at = at or timezone.now()
        factor.save(update_fields=["confirmed", "confirmed_at"])
    return factor
