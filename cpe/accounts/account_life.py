"""accounts' part of the account's life (lifecycle): the account, sign-in records, codes and
identity-change requests in the data copy (rules R14), and what closing does with them (rules R11).
Registered by AccountsConfig.ready(). The user row itself is handled by closing.account_close.

The outbox's rows (notices.OutboundMessage) are registered here too: notices sits below
accounts (accounts sends its codes through it) and cannot import the registry. In the copy, the
notifications sent to the learner (type, channel, time; never the text: rules R14); on closing,
the account's messages deleted, with the registration codes sent to its address before the
account existed. The closing confirmation itself is queued with user=None and wiped later
(closing.outbox_scrub_closed)."""

from datetime import timedelta

from django.db.models import Q

from cpe.core import crypto
from cpe.notices.models import OutboundMessage

from . import lifecycle
from .lifecycle import (
    ClosingStep,
    Section,
    display,
    register_closing_step,
    register_message_labels,
    register_section,
)
from .models import IdentityChangeRequest, LoginRecord, VerificationCode
from .policy import CODE_RESEND_INTERVAL, CODE_TTL


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


def _messages(user):
    return OutboundMessage.objects.filter(user=user).order_by("created_at", "id")


def _event_label(msg) -> str:
    """What each notification was about, as the app that sends it registered (the event code is
    kept in the copy too, for machines)."""
    return lifecycle.message_label(msg.event)


def _delete_pre_account_messages(user) -> int:
    """Messages sent to the learner's address before the account existed (the registration
    code: user=None). The outbox has no blind index, so the few unattached messages around the
    registration time are decrypted and compared."""
    window = CODE_TTL + CODE_RESEND_INTERVAL
    contacts = {v for v in (user.mobile, user.email) if v}
    candidates = OutboundMessage.objects.filter(
        user__isnull=True,
        event__startswith="code.",
        created_at__gte=user.date_joined - timedelta(days=1) - window,
        created_at__lte=user.date_joined,
    )
    ids = [m.pk for m in candidates if m.to in contacts]
    return OutboundMessage.objects.filter(pk__in=ids).delete()[0]


def _delete_messages(user, at=None) -> int:
    return OutboundMessage.objects.filter(user=user).delete()[0] + _delete_pre_account_messages(user)


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
    Section(
        "发送给您的通知",
        _messages,
        order=190,
        models=("notices.OutboundMessage",),
        note="仅列出通知的类型、渠道与时间，不含验证码等内容。",
        columns=(
            ("类型", _event_label),
            ("事件代码", "event"),
            ("渠道", display("channel")),
            ("收件人", "to_masked"),
            ("状态", display("status")),
            ("创建时间", "created_at"),
            ("发送时间", "sent_at"),
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
        reason="deleted in every outcome with any attached ID card photo (identity data; "
        "the account's identity is sealed into the archive)",
        delete=_delete_identity_changes,
        scrub=_delete_identity_changes,
    ),
    ClosingStep(
        "messages",
        order=40,
        models=("notices.OutboundMessage",),
        reason="deleted in every outcome (addresses and codes)",
        delete=_delete_messages,
        scrub=_delete_messages,
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
