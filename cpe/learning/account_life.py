"""learning's part of the account's life (cpe.accounts.lifecycle): enrolments, chapter progress,
play sessions and suspicious events in the data copy (rules R14), and on closing (rules R11) play
tokens revoked first and the live rows left without IP and browser. Registered by LearningConfig.ready()."""

from cpe.accounts import lifecycle
from cpe.accounts.lifecycle import ClosingStep, Section, display, seconds

from .models import ChapterProgress, Enrolment, PlaySession, SuspiciousEvent
from .services import play_sessions_revoke, progress_flush


def _enrolments(user):
    return (
        Enrolment.objects.filter(user=user)
        .select_related("product", "order", "year")
        .order_by("valid_from", "id")
    )


def _progress(user):
    return (
        ChapterProgress.objects.filter(user=user)
        .select_related("chapter__course")
        .order_by("chapter__course__code", "chapter__position")
    )


def _play_sessions(user):
    return (
        PlaySession.objects.filter(user=user).select_related("chapter__course").order_by("started_at", "id")
    )


def _suspicious(user):
    return SuspiciousEvent.objects.filter(user=user).select_related("chapter__course").order_by("at", "id")


def _flush(user) -> None:
    """The heartbeat's write-behind is flushed before the copy is read, so progress is current."""
    progress_flush(user.pk)


def _revoke(user, at) -> None:
    play_sessions_revoke(user_id=user.pk, reason="account_closed", at=at)  # players stop first


def _scrub_play_sessions(user, at) -> int:
    return PlaySession.objects.filter(user=user).update(ip=None, user_agent="")


def _scrub_suspicious(user, at) -> int:
    return SuspiciousEvent.objects.filter(user=user).update(ip=None)


SECTIONS = (
    Section(
        "课程学习（选课）",
        _enrolments,
        order=90,
        models=("learning.Enrolment",),
        columns=(
            ("商品", "product.title"),
            ("培训年度", "year.year"),
            ("订单号", "order.number"),
            ("生效时间", "valid_from"),
            ("到期时间", "valid_until"),
            ("状态", display("status")),
        ),
    ),
    Section(
        "章节学习进度",
        _progress,
        order=100,
        models=("learning.ChapterProgress",),
        columns=(
            ("课程", "chapter.course.title"),
            ("章节", "chapter.title"),
            ("已计时（秒）", seconds("watched_seconds")),
            ("最远位置（秒）", seconds("furthest_position")),
            ("已完成", lambda p: p.completed_at is not None),
            ("完成时间", "completed_at"),
            ("更新时间", "updated_at"),
        ),
    ),
    Section(
        "播放记录",
        _play_sessions,
        order=110,
        models=("learning.PlaySession",),
        columns=(
            ("课程", "chapter.course.title"),
            ("章节", "chapter.title"),
            ("开始时间", "started_at"),
            ("结束时间", "ended_at"),
            ("被其他播放器取代时间", "superseded_at"),
            ("最后心跳时间", "last_at"),
            ("本次计时（秒）", seconds("credited_seconds")),
            ("IP", "ip"),
            ("设备", "user_agent"),
        ),
    ),
    Section(
        "学习异常记录",
        _suspicious,
        order=120,
        models=("learning.SuspiciousEvent",),
        note="系统为防止挂机、拖动或多处同时播放而记录的情况。",
        columns=(
            ("课程", "chapter.course.title"),
            ("章节", "chapter.title"),
            ("类型", display("kind")),
            ("时间", "at"),
            ("IP", "ip"),
        ),
    ),
)


def register() -> None:
    lifecycle.register_export_prepare("learning.progress_flush", _flush)
    for section in SECTIONS:
        lifecycle.register_section(section)
    # Enrolments and progress stay as records of the paid service (pseudonymous once the user row
    # is scrubbed); with a never-paid account there are none, and progress goes with the user row.
    lifecycle.register_closing_step(
        ClosingStep(
            "play_sessions",
            order=100,
            models=("learning.PlaySession",),
            reason="play tokens revoked before anything else; kept without IP and browser as records of the "
            "paid learning",
            stop=_revoke,
            scrub=_scrub_play_sessions,
        )
    )
    lifecycle.register_closing_step(
        ClosingStep(
            "suspicious_events",
            order=110,
            models=("learning.SuspiciousEvent",),
            reason="kept without IP, as evidence behind the credited time",
            scrub=_scrub_suspicious,
        )
    )
    lifecycle.register_message_labels({}, prefixes={"enrolment.expiry_": "课程到期提醒"})
