"""moderation's part of the account's life (cpe.accounts.lifecycle): bans and the termination in
the data copy (rules R12, R14). Bans stay on closing (the user row goes or is scrubbed; a ban of a
deleted account goes with it). Registered by ModerationConfig.ready()."""

from types import SimpleNamespace

from cpe.accounts import lifecycle
from cpe.accounts.lifecycle import Section
from cpe.accounts.states import AccountStatus

from .models import Ban
from .policy import termination_reason_text
from .states import BanKind


def _sanctions(user):
    """Bans of the account and its termination (rules R12), oldest first; what the learner was told
    (reason, period, lifting), never the staff's internal notes or names."""
    rows = [
        SimpleNamespace(
            kind="账号封禁",
            reason=b.reason,
            starts_at=b.starts_at,
            ends_at=b.ends_at or "直至平台解除",
            lifted_at=b.lifted_at,
        )
        for b in Ban.objects.filter(user=user, kind=BanKind.ACCOUNT).order_by("starts_at", "id")
    ]
    if user.status == AccountStatus.TERMINATED:
        rows.append(
            SimpleNamespace(
                kind="终止服务",
                reason=termination_reason_text(reason=user.status_reason, note=user.status_note),
                starts_at=user.status_changed_at,
                ends_at=None,
                lifted_at=None,
            )
        )
    return rows


def register() -> None:
    lifecycle.register_section(
        Section(
            "封禁与终止服务记录",
            _sanctions,
            order=50,
            models=("moderation.Ban",),
            note="平台对您的账号采取的封禁和终止服务措施及告知您的原因。",
            columns=(
                ("措施", "kind"),
                ("原因", "reason"),
                ("开始时间", "starts_at"),
                ("结束时间", "ends_at"),
                ("解除时间", "lifted_at"),
            ),
        )
    )
    lifecycle.register_message_labels(
        {"account.banned": "账号封禁通知", "code.sanctioned_copy": "下载个人信息验证码"}
    )
