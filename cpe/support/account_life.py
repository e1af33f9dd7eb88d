"""support's part of the account's life (cpe.accounts.lifecycle): the learner's questions and the
answers in the data copy (rules R14); on closing every thread is deleted (free text, no legal
reason to keep it; rules R11). Registered by SupportConfig.ready()."""

from cpe.accounts import lifecycle
from cpe.accounts.lifecycle import ClosingStep, Section

from .models import Message, Thread


def _messages(user):
    return (
        Message.objects.filter(thread__user=user)
        .select_related("thread")
        .order_by("thread__created_at", "thread_id", "created_at", "id")
    )


def _delete(user, at=None) -> int:
    return Thread.objects.filter(user=user).delete()[0]


COLUMNS = (
    ("问题", "thread.title"),
    ("状态", lambda m: m.thread.get_status_display()),
    ("提问时间", "thread.created_at"),
    # The thread as the learner sees it on its page ("body" is barred by name because the
    # outbox's bodies hold codes; these are the learner's own question and the answers to it).
    ("发言", lambda m: "客服" if m.from_staff else "本人"),
    ("内容", lambda m: m.body),
    ("时间", "created_at"),
)


def register() -> None:
    lifecycle.register_section(
        Section(
            "在线提问", _messages, order=180, models=("support.Message", "support.Thread"), columns=COLUMNS
        )
    )
    lifecycle.register_closing_step(
        ClosingStep(
            "support_threads",
            order=50,
            models=("support.Thread", "support.Message"),
            reason="deleted in every outcome (free text; messages go with their thread)",
            delete=_delete,
            scrub=_delete,
        )
    )
