"""notices' part of the account's life (cpe.accounts.lifecycle): the notifications sent to the
learner in the data copy (type, channel, time; never the text: rules R14), and on closing (rules
R11) the account's messages deleted, with the registration codes sent to its address before the
account existed. The closing confirmation itself is queued with user=None and wiped later
(accounts.closing.outbox_scrub_closed). Registered by NoticesConfig.ready()."""

from datetime import timedelta

from cpe.accounts import lifecycle
from cpe.accounts.lifecycle import ClosingStep, Section, display
from cpe.accounts.policy import CODE_RESEND_INTERVAL, CODE_TTL

from .models import OutboundMessage


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


def _delete(user, at=None) -> int:
    return OutboundMessage.objects.filter(user=user).delete()[0] + _delete_pre_account_messages(user)


def register() -> None:
    lifecycle.register_section(
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
        )
    )
    lifecycle.register_closing_step(
        ClosingStep(
            "messages",
            order=40,
            models=("notices.OutboundMessage",),
            reason="deleted in every outcome (addresses and codes)",
            delete=_delete,
            scrub=_delete,
        )
    )
