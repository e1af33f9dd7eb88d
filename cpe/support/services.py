"""The only writes of the support app (rules R13)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from cpe.core.audit import audit_record
from cpe.notices.models import Channel
from cpe.notices.services import message_queue

from . import policy
from .errors import SupportError
from .models import Category, Message, Thread
from .states import ThreadEvent, ThreadStatus

if TYPE_CHECKING:
    from cpe.accounts.models import User


def _require(decision: policy.Decision, field: str | None = None) -> None:
    if not decision.allowed:
        raise SupportError(decision.code, decision.message, field=field)


def thread_ask(
    *, user: User, title: str, body: str, category: str = "", at: datetime | None = None
) -> Thread:
    """A learner asks a question: a thread waiting for a reply, with its first message."""
    at = at or timezone.now()
    if user.is_staff:
        raise SupportError("staff", "工作人员请在管理后台回复学员提问。")
    title, body, category = (title or "").strip(), (body or "").strip(), category or ""
    _require(policy.check_title(title), "title")
    _require(policy.check_body(body), "body")
    if category and category not in Category.values:
        raise SupportError("bad_category", "请选择列表中的分类。", field="category")
    with transaction.atomic():
        # Serialise one learner's asks on their own row, so two tabs cannot pass the limit together.
        get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).get()
        waiting = Thread.objects.filter(user=user, status=ThreadStatus.WAITING).count()
        _require(policy.ask_decision(waiting))
        thread = Thread.objects.create(
            user=user, title=title, category=category, created_at=at, last_message_at=at
        )
        Message.objects.create(thread=thread, author=user, body=body, created_at=at)
    return thread


def _locked(thread_id: int, **filters: Any) -> Thread:
    thread = Thread.objects.select_for_update().filter(pk=thread_id, **filters).first()
    if thread is None:
        raise SupportError("no_thread", "问题不存在。")
    return thread


def _move(thread: Thread, event: str, at: datetime, field: str = "body") -> None:
    _require(policy.move_decision(thread.status, event), field)
    # move_decision allowed the move just above, so next_status is not None.
    thread.status = policy.next_status(thread.status, event)  # type: ignore[assignment]
    thread.last_message_at = at


def thread_follow_up(*, user: User, thread_id: int, body: str, at: datetime | None = None) -> Message:
    """The learner adds to their own thread while it is not closed (another learner's thread
    does not exist for them)."""
    at = at or timezone.now()
    body = (body or "").strip()
    _require(policy.check_body(body, "补充内容"), "body")
    with transaction.atomic():
        thread = _locked(thread_id, user=user)
        _move(thread, ThreadEvent.FOLLOW_UP, at)
        msg = Message.objects.create(thread=thread, author=user, body=body, created_at=at)
        thread.save(update_fields=["status", "last_message_at"])
    return msg


def thread_answer(
    *, staff: User, thread_id: int, body: str, ip: str | None = None, at: datetime | None = None
) -> Message:
    """Staff answer: the thread becomes 已回复, the learner is told by SMS (and e-mail when
    verified) through the outbox, and the answer is audited."""
    at = at or timezone.now()
    if not getattr(staff, "is_staff", False):
        raise SupportError("not_staff", "只有工作人员可以回复。")
    body = (body or "").strip()
    _require(policy.check_body(body, "回复内容"), "body")
    with transaction.atomic():
        thread = _locked(thread_id)
        _move(thread, ThreadEvent.ANSWER, at)
        msg = Message.objects.create(thread=thread, author=staff, from_staff=True, body=body, created_at=at)
        thread.save(update_fields=["status", "last_message_at"])
        audit_record(
            "support.answered",
            actor=staff,
            subject=thread,
            ip=ip,
            at=at,
            data={"message_id": msg.pk, "chars": len(body)},
        )
        _notify(thread.user, thread, at)
    return msg


def thread_close(*, staff: User, thread_id: int, ip: str | None = None, at: datetime | None = None) -> Thread:
    """Staff close a thread: no more follow-ups or answers. Audited."""
    at = at or timezone.now()
    if not getattr(staff, "is_staff", False):
        raise SupportError("not_staff", "只有工作人员可以关闭问题。")
    with transaction.atomic():
        thread = _locked(thread_id)
        previous = thread.status
        _require(policy.move_decision(thread.status, ThreadEvent.CLOSE), None)
        # move_decision allowed the move just above, so next_status is not None.
        thread.status = policy.next_status(thread.status, ThreadEvent.CLOSE)  # type: ignore[assignment]
        thread.closed_at, thread.closed_by = at, staff
        thread.save(update_fields=["status", "closed_at", "closed_by"])
        audit_record("support.closed", actor=staff, subject=thread, ip=ip, at=at, data={"from": previous})
    return thread


def _notify(user: User, thread: Thread, at: datetime) -> None:
    text = policy.answered_notice_text(thread.pk)
    if user.mobile:
        message_queue(
            channel=Channel.SMS,
            to=user.mobile,
            user=user,
            at=at,
            event="support.answered",
            body=f"【内蒙古会计继续教育】{text}",
        )
    if user.email and user.email_verified_at:
        message_queue(
            channel=Channel.EMAIL,
            to=user.email,
            user=user,
            at=at,
            event="support.answered",
            subject="内蒙古会计继续教育平台：您的提问已有回复",
            body=f"{user.name}，您好：\n\n{text}",
        )
