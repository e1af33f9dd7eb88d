"""accounts' part of the account's life (lifecycle): the account, sign-in records, codes and
identity-change requests in the data copy (rules R14), and what closing does with them (rules R11).
Registered by AccountsConfig.ready(). The user row itself is handled by closing.account_close."""

from django.db.models import Q

from cpe.core import crypto

from .lifecycle import (
    ClosingStep,
    Section,
    display,
    register_closing_step,
    register_message_labels,
    register_section,
)
from .models import IdentityChangeRequest, LoginRecord, VerificationCode


def _account(user):
    return [user]


def _logins(user):
    return LoginRecord.objects.filter(user=user).order_by("at", "id")


def _identity_changes(user):
    return IdentityChangeRequest.objects.filter(user=user).order_by("created_at", "id")


def _contact_bidx(user) -> list[str]:
    return [crypto.blind_index("code_target", v) for v in (user.mobile, user.email) if v]


def _delete_logins(user, at=None) -> int:
    return LoginRecord.objects.filter(user=user).delete()[0]


def _delete_codes(user, at=None) -> int:
    """Also the codes sent before the account existed, found by the address's blind index."""
    return VerificationCode.objects.filter(Q(user=user) | Q(target_bidx__in=_contact_bidx(user))).delete()[0]


def _delete_identity_changes(user, at=None) -> int:
    return IdentityChangeRequest.objects.filter(user=user).delete()[0]


SECTIONS = (
    Section(
        "账户信息",
        _account,
        single=True,
        order=10,
        models=("accounts.User",),
        columns=(
            ("姓名", "name"),
            ("身份证号码", "id_number"),
            ("手机号码", "mobile"),
            ("手机验证时间", "mobile_verified_at"),
            ("电子邮箱", "email"),
            ("邮箱验证时间", "email_verified_at"),
            ("工作单位", "employer"),
            ("会计人员信息管理地区", display("region")),
            ("注册时间", "date_joined"),
            ("账号状态", display("status")),
            ("终止原因", display("status_reason")),
            ("状态变更时间", "status_changed_at"),
            ("待更正原因", "correction_reason"),
            ("待更正设置时间", "correction_set_at"),
            ("16-17 周岁自立声明", "self_supporting"),
            ("未成年审核", display("minor_review")),
            ("会计信息系统（AIS）状态", display("ais_status")),
            ("AIS 核验时间", "ais_checked_at"),
        ),
    ),
    Section(
        "登录记录",
        _logins,
        order=40,
        models=("accounts.LoginRecord",),
        columns=(
            ("时间", "at"),
            ("IP", "ip"),
            ("设备", "user_agent"),
            ("新设备", "is_new_device"),
            ("结束了其他登录", "ended_other_session"),
            ("登录被拒绝（封禁中）", "refused"),
        ),
    ),
    Section(
        "身份信息变更申请",
        _identity_changes,
        order=170,
        models=("accounts.IdentityChangeRequest",),
        columns=(
            ("变更项", display("field")),
            ("新值", "new_value"),
            ("申请理由", "reason"),
            ("状态", display("status")),
            ("申请时间", "created_at"),
            ("审核时间", "decided_at"),
            ("审核意见", "decision_note"),
        ),
    ),
)

STEPS = (
    ClosingStep(
        "login_records",
        order=10,
        models=("accounts.LoginRecord",),
        reason="deleted in every outcome: sign-in records serve the account's security only",
        delete=_delete_logins,
        scrub=_delete_logins,
    ),
    ClosingStep(
        "codes",
        order=20,
        models=("accounts.VerificationCode",),
        reason="deleted in every outcome (hold the address)",
        delete=_delete_codes,
        scrub=_delete_codes,
    ),
    ClosingStep(
        "identity_changes",
        order=30,
        models=("accounts.IdentityChangeRequest", "accounts.IdentityDocument"),
        reason="deleted in every outcome with any attached ID card photo (identity data; the account's identity is sealed "
        "into the archive)",
        delete=_delete_identity_changes,
        scrub=_delete_identity_changes,
    ),
)

MESSAGE_LABELS = {
    "code.register": "注册验证码",
    "code.change_mobile": "更换手机号码验证码",
    "code.verify_email": "邮箱验证",
    "code.reset_password": "找回密码验证码",
    "email.verify": "邮箱验证链接",
    "account.hold": "资料待更正通知",
    "account.terminated": "终止服务通知",
    "account.restored": "恢复服务通知",
}


def register() -> None:
    for section in SECTIONS:
        register_section(section)
    for step in STEPS:
        register_closing_step(step)
    register_message_labels(MESSAGE_LABELS)
