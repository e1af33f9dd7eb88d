from cpe.core import crypto
from cpe.core.ais_labels import PERSON_EXPLANATIONS
from cpe.core.masking import mask_id_number

from . import hooks, policy
from .auth import user_for_identifier
from .models import IdentityChangeRequest, LoginRecord, User
from .states import AccountStatus, AisStatus, IdentityField, MinorReview

# The AIS words come from one place (core.ais_labels).
AIS_EXPLANATIONS = {AisStatus(k): v for k, v in PERSON_EXPLANATIONS.items()}


def dashboard_context(user: User) -> dict:
    from django.utils import timezone

    at = timezone.now()
    # The enrolments, the years' hours, progress, planner and certificates (credits.selectors.
    # dashboard_studies, registered by CreditsConfig.ready: credits sits above accounts).
    studies = hooks.dashboard_studies(user, at)
    blocked = [
        label
        for action, label in policy.HOLD_ACTION_LABELS.items()
        if not policy.hold_allows(action, on_hold=user.on_hold)
    ]
    return {
        "ais_status": AisStatus(user.ais_status),
        "ais_explanation": AIS_EXPLANATIONS[AisStatus(user.ais_status)],
        "hold_blocked": blocked,
        "minor_pending": user.minor_review == MinorReview.PENDING,
        **studies,
        "id_masked": mask_id_number(user.id_number),
    }


def login_history(user: User, limit: int = 20) -> list[LoginRecord]:
    return list(user.logins.all()[:limit])


def restorable_account(identifier: str, password: str) -> User | None:
    """The account this correct password opens if it was terminated for unreachable contact
    details (policy.account_restorable), else None."""
    user = user_for_identifier(identifier)
    if user is None or user.is_active or user.is_staff:
        return None
    if not policy.account_restorable(status=user.status, status_reason=user.status_reason):
        return None
    return user if user.check_password(password) else None


def inactive_account_message(identifier: str, password: str) -> str | None:
    """Why a correct password did not sign in: the account is closed or terminated."""
    user = user_for_identifier(identifier)
    if user is None or user.is_active or not user.check_password(password):
        return None
    if user.status == AccountStatus.TERMINATED:
        return f"该账号已终止服务（{user.get_status_reason_display()}），无法登录。如有疑问请联系客服。"
    if user.status == AccountStatus.CLOSED:
        return "该账号已注销，无法登录。"
    return "该账号已停用，请联系客服。"


def identity_change_conflict(req: IdentityChangeRequest) -> bool:
    """For the reviewer: another account already holds the ID number this request asks for
    (approving would fail on the unique index). The learner is never told (PIPL Art. 28)."""
    if req.field != IdentityField.ID_NUMBER:
        return False
    return (
        User.objects.filter(id_number_bidx=crypto.blind_index("id_number", req.new_value))
        .exclude(pk=req.user_id)
        .exists()
    )
