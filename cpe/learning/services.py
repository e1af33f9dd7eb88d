from collections.abc import Callable
from datetime import datetime, timedelta
from types import ModuleType

from django.db import transaction
from django.utils import timezone

from cpe.accounts.models import User
from cpe.catalog.models import Chapter
from cpe.core.crypto import blind_index
from cpe.notices.models import Channel
from cpe.notices.services import message_queue

from . import policy
from .models import Enrolment, EnrolmentStatus


def enrolment_reminders_send(*, at: datetime | None = None) -> int:
    """Scheduled (hourly): the 7-day and 1-day expiry reminders by SMS and e-mail (rules R4.5),
    each sent once per enrolment."""
    at = at or timezone.now()
    horizon = at + timedelta(days=max(policy.REMINDER_DAYS_BEFORE))
    sent = 0
    candidates = Enrolment.objects.filter(
        status=EnrolmentStatus.ACTIVE, valid_until__gt=at, valid_until__lte=horizon
    ).values_list("pk", flat=True)
    for pk in candidates:
        with transaction.atomic():
            e = Enrolment.objects.select_for_update().select_related("user", "product").get(pk=pk)
            due = policy.reminders_due(valid_until=e.valid_until, already_sent=e.reminded_days, at=at)
            if not due:
                continue
            days = min(due)
            text = (
                f"您购买的“{e.product.title}”将于 {local_datetime(e.valid_until)} 到期"
                f"（剩余不足 {days} 天），请尽快完成学习和考试。"
            )
            if e.user.mobile:
                message_queue(
                    channel=Channel.SMS,
                    to=e.user.mobile,
                    user=e.user,
                    at=at,
                    event=f"enrolment.expiry_{days}d",
                    body=f"【内蒙古会计继续教育】{text}",
                )
            if e.user.email:
                message_queue(
                    channel=Channel.EMAIL,
                    to=e.user.email,
                    user=e.user,
                    at=at,
                    event=f"enrolment.expiry_{days}d",
                    subject="课程即将到期提醒",
                    body=f"{e.user.name}，您好：\n\n{text}",
                )
            e.reminded_days = sorted(set(e.reminded_days) | set(due))
            e.save(update_fields=["reminded_days"])
            sent += 1
    return sent


# =============================================================================================
# Play sessions and heartbeats (rules R7.2-7.4). The rules are in policy.py; this module loads,
# locks, asks the policy and writes what it decided.
# =============================================================================================
import logging  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from django.core.files.storage import Storage  # noqa: E402
from django.db import IntegrityError  # noqa: E402
from django.db.models import QuerySet  # noqa: E402

from cpe.accounts.policy import hold_allows  # noqa: E402
from cpe.core import redis_wire  # noqa: E402
from cpe.core.audit import audit_record  # noqa: E402
from cpe.core.datefmt import local_datetime  # noqa: E402

from . import selectors  # noqa: E402
from .errors import LearningError  # noqa: E402
from .models import ChapterProgress, PlaySession, SuspiciousEvent, SuspiciousKind  # noqa: E402

log = logging.getLogger(__name__)

REFUSALS = {
    "not_enrolled": "您尚未购买包含本章节的课程，请先选课购买。",
    "expired": "该课程已超过有效期（超期课程），不能继续学习和考试，请重新购买。",
    # the same, when the product cannot be bought again now (refused.html says why)
    "expired_not_on_sale": "该课程已超过有效期（超期课程），不能继续学习和考试。",
    "closed": "该课程的开通记录已关闭（已退款），不能继续学习。",
    "not_started": "该课程尚未到开通时间。",
    "on_hold": "您的资料需要更正，更正前暂不能学习。",
    "not_learner": "工作人员账号不能学习课程。",
    "no_session": "播放会话不存在，请刷新页面。",
    "no_chapter": "章节不存在。",
    "ended": "本次播放已结束，请刷新页面重新开始。",
    "superseded": "您已在其他窗口或设备打开了播放器，本窗口已停止计时。",
    "no_check": "当前没有需要确认的防挂机提示。",
    "bad_check": "确认信息不正确，请刷新页面。",
    "banned": "您的账号已被平台封禁，不能继续学习，本窗口已停止计时。",
    "terminated": "您的账号已终止服务，不能继续学习，本窗口已停止计时。",
    "account_closed": "您的账号已注销，不能继续学习，本窗口已停止计时。",
    "session_elsewhere": "您的账号已在其他地方登录或已退出，本窗口已停止计时。",
    "unbound": "播放凭证与当前登录不符，本窗口已停止计时，请重新登录后刷新页面。",
    "unavailable": "学习计时服务暂时不可用，本窗口已暂停计时，请稍后刷新页面继续学习。",
}


def _refuse(code: str) -> LearningError:
    return LearningError(code, REFUSALS[code])


@dataclass
class HeartbeatResult:
    credited: float
    reason: str
    watched_seconds: float
    watched_share: float
    frontier: float
    duration: float
    completed: bool
    completed_now: bool
    attention_token: str
    attention_deadline: float  # seconds left to answer (negative: overdue)


def _check_learner(user: User) -> None:
    if user.is_staff:
        raise _refuse("not_learner")
    if not hold_allows("study", on_hold=user.on_hold):
        raise _refuse("on_hold")


def web_session_hash(raw_session_key: str | None) -> str:
    """The keyed hash a play session keeps of its web session key ("" for none): the digest the
    accounts app keeps of User.session_key, so the two can be compared and neither signs in."""

    return blind_index("session_key", raw_session_key) if raw_session_key else ""


def _refuse_standing(user: User, at: datetime) -> None:
    code = selectors.account_standing(user, at)
    if code:
        raise _refuse(code)


def play_start(
    *,
    user: User,
    chapter_id: int,
    web_session: str = "",
    ip: str | None = None,
    user_agent: str = "",
    at: datetime | None = None,
    rand: Callable[[], float] = random.random,
) -> PlaySession:
    """Open a player on a chapter: it becomes the account's current stream and any other open
    one is superseded (rules R7.3). Refused without a valid enrolment (rules R4.4), on hold, or
    for an account banned, terminated or closed (rules R12, R11). `web_session`: the raw key of
    the web session it is started in; only its keyed hash is stored, and every report must
    come with that session (policy.session_bound)."""

    at = at or timezone.now()
    _check_learner(user)
    _refuse_standing(user, at)
    chapter = (
        Chapter.objects.select_related("course").filter(pk=chapter_id, course__is_published=True).first()
    )
    if chapter is None:
        raise _refuse("no_chapter")
    enrolment, state = selectors.enrolment_for(user, chapter, at)
    if state != "valid" or enrolment is None:  # valid: there is an enrolment
        raise _refuse(state)
    key = secrets.token_hex(16)
    hot = _hot()
    if hot is not None:
        # The hot path: the other players stop now, and what they earned is in PostgreSQL
        # before this one reads the learner's progress. Redis unreachable: nothing is written,
        # the start is refused with 503 "unavailable" (the player tries again), never a 500.
        try:
            hot.stream_switch(user.pk, key)
            hot.flush_user(user.pk)
        except redis_wire.UNAVAILABLE as exc:
            log.warning("play start: redis unavailable: %s", exc)
            raise _refuse("unavailable") from exc
    with transaction.atomic():
        locked = (
            User.objects.select_for_update().filter(pk=user.pk).first()
        )  # one start per account at a time
        # Again under the lock a revocation takes (play_sessions_revoke); `locked` is the learner's
        # own row, which exists.
        _refuse_standing(locked, at)  # type: ignore[arg-type]
        PlaySession.objects.filter(user=user, ended_at__isnull=True, superseded_at__isnull=True).update(
            superseded_at=at
        )
        progress, _ = ChapterProgress.objects.get_or_create(user=user, chapter=chapter)
        duration = selectors.chapter_duration(chapter)
        resume = policy.resume_position(
            intervals=progress.intervals, last_position=progress.last_position, duration=duration
        )
        session = PlaySession.objects.create(
            key=key,
            user=user,
            enrolment=enrolment,
            chapter=chapter,
            web_session=web_session_hash(web_session),
            ip=ip,
            user_agent=(user_agent or "")[:300],
            started_at=at,
            last_at=at,
            last_position=resume,
            last_end=resume,
            play_until_check=policy.next_attention_check(rand()),
        )
    if hot is not None:
        try:
            hot.session_opened(session, progress, duration)
        except redis_wire.UNAVAILABLE as exc:
            # Committed already: its state is rebuilt from the row at its first report (as
            # after a Redis loss), so the start stands.
            log.warning("play start: state of %s not written, redis unavailable: %s", key, exc)
        # A revocation that committed between our commit and the state written above found no
        # state to mark: it is in the row, so mark it now.
        row = PlaySession.objects.filter(pk=session.pk).values("revoked_at", "revoked_reason").first()
        if row and row["revoked_at"] is not None:
            hot.revoke([session.key], row["revoked_reason"], row["revoked_at"])
    session.resume_at = resume
    session.progress = progress
    session.duration = duration
    return session


def _hot() -> ModuleType | None:
    """The Redis hot path module when it is in use (settings.LEARNING_HOTPATH / REDIS_URL)."""
    from . import hotpath

    return hotpath if hotpath.enabled() else None


def progress_flush(user_id: int) -> None:
    """Make a learner's stored progress current before reading it (course page, completion
    checks of other apps). A no-op on the ORM path, where every heartbeat is stored at once."""
    hot = _hot()
    if hot is not None:
        hot.flush_user(user_id)


def play_session_owner(key: str) -> User:
    """The learner a play session belongs to (for a request authenticated by its play token)."""
    s = PlaySession.objects.select_related("user").filter(key=key).first()
    if s is None:
        raise _refuse("no_session")
    return s.user


REVOKE_REASONS = ("session_elsewhere", "banned", "terminated", "account_closed", "on_hold")


def play_sessions_revoke(
    *, user_id: int, reason: str, at: datetime | None = None, actor: User | None = None
) -> int:
    """Revoke every play token of the account (sign-out or a sign-in elsewhere, a ban, a
    termination, closing, a correction hold): each open play session of it is marked revoked
    now, so its next report is refused and credits nothing, on the plain path (the row) and on
    the hot path (its Redis state, marked once this commits). Joins the caller's transaction,
    so the revocation stands or falls with the sanction. Call it before the sanction's own audit
    event: it locks the user row, then the play sessions, then the audit head, the order
    play_start and the hot path's flush take them in. Returns how many were revoked."""

    if reason not in REVOKE_REASONS:
        raise ValueError(f"unknown revocation reason {reason!r}")
    at = at or timezone.now()
    with transaction.atomic():
        # The lock play_start takes: a start racing this one either commits first (and its
        # session is revoked below) or waits and sees the new standing.
        User.objects.select_for_update().filter(pk=user_id).first()
        keys = list(
            PlaySession.objects.select_for_update()
            .filter(user_id=user_id, ended_at__isnull=True, revoked_at__isnull=True)
            .order_by("pk")
            .values_list("key", flat=True)
        )
        if not keys:
            return 0
        PlaySession.objects.filter(key__in=keys).update(revoked_at=at, revoked_reason=reason)
        audit_record(
            "learning.play_revoked",
            actor=actor,
            at=at,
            data={"user": user_id, "reason": reason, "sessions": len(keys)},
        )
        hot = _hot()
        if hot is not None:
            transaction.on_commit(lambda: hot.revoke(keys, reason, at))
    return len(keys)


def _load(user: User, key: str, *, lock: bool = True) -> PlaySession:
    qs = PlaySession.objects.select_related("enrolment", "chapter", "user")
    if lock:
        qs = qs.select_for_update(of=("self",))
    session = qs.filter(key=key).first()
    if session is None or session.user_id != user.pk:
        raise _refuse("no_session")
    return session


def _stream_state(s: PlaySession) -> policy.StreamState:
    return policy.StreamState(
        started_at=s.started_at,
        last_at=s.last_at,
        last_seq=s.last_seq,
        last_position=s.last_position,
        last_end=s.last_end,
        session_credited=s.credited_seconds,
        play_until_check=s.play_until_check,
        check_issued_at=s.check_issued_at,
    )


def _flag(
    session: PlaySession, kind: str, *, at: datetime, ip: str | None = None, detail: dict | None = None
) -> None:
    """Record a suspicious pattern once per session and kind; repeats are counted on the session."""
    if kind in session.flags:
        return
    session.flags = [*session.flags, kind]
    try:
        with transaction.atomic():
            SuspiciousEvent.objects.create(
                user_id=session.user_id,
                session=session,
                chapter_id=session.chapter_id,
                kind=kind,
                at=at,
                ip=ip,
                detail=detail or {},
            )
    except IntegrityError:
        pass


def _usable(session: PlaySession, at: datetime) -> tuple[bool, str]:
    e = session.enrolment
    state = policy.enrolment_state(
        closed=e.status == "closed", window=policy.Window(e.valid_from, e.valid_until), at=at
    )
    return state == "valid", state


def _gate(s: PlaySession, web_session: str | None, at: datetime) -> tuple[str, str]:
    """Before a report is judged: (refusal code, suspicious kind to record) for a revoked play
    session, one reported without the web session it was started in, or an account that may
    not study now (read from the rows: the truth). ("", "") when the report may be judged."""
    if s.revoked_at is not None:
        return (
            s.revoked_reason or "session_elsewhere",
            SuspiciousKind.REVOKED if policy.revoked_replay(s.revoked_at, at) else "",
        )
    if web_session is not None and not policy.session_bound(s.web_session, web_session):
        return "unbound", SuspiciousKind.UNBOUND
    return selectors.account_standing(s.user, at), ""


def play_heartbeat(
    *,
    user: User,
    key: str,
    seq: int,
    start: float,
    position: float,
    ip: str | None = None,
    at: datetime | None = None,
    web_session: str | None = None,
) -> HeartbeatResult:
    """Judge one report of the player and store what it earned. A superseded, ended or expired
    session is told why (LearningError) after its suspicious patterns are recorded; so is a
    revoked one, one reported without its web session, and one of an account banned,
    terminated, closed or on hold, which earn nothing. `web_session`: the keyed hash of the
    request's session cookie ("" without one); every request door passes it (None only for
    callers inside the platform, which have no request)."""
    at = at or timezone.now()
    _check_learner(user)
    refusal = None
    with transaction.atomic():
        s = _load(user, key)
        if s.ended_at is not None:
            raise _refuse("ended")
        gate, kind = _gate(s, web_session, at)
        if gate:  # nothing is judged or credited; only the pattern is recorded, once
            if kind and kind not in s.flags:
                _flag(s, kind, at=at, ip=ip, detail={"seq": seq, "reason": gate})
                s.save(update_fields=["flags"])
        else:
            out, progress, duration, refusal = _judge(s, user, seq, start, position, ip, at)
    if gate:
        raise _refuse(gate)
    if refusal:
        raise _refuse(refusal)
    return _result(s, progress, duration, out.credited, out.reason, out.completed_now, at)


def _judge(
    s: PlaySession, user: User, seq: int, start: float, position: float, ip: str | None, at: datetime
) -> tuple[policy.Outcome, ChapterProgress, float, str | None]:
    """play_heartbeat's judgement of a report that passed the gate, inside its transaction."""
    refusal = None
    progress = ChapterProgress.objects.select_for_update().get(user_id=s.user_id, chapter_id=s.chapter_id)
    duration = selectors.chapter_duration(s.chapter)
    usable, enrol_state = _usable(s, at)
    out = policy.heartbeat(
        state=_stream_state(s),
        report=policy.Report(seq=int(seq), start=start, position=position),
        intervals=progress.intervals,
        duration=duration,
        at=at,
        is_current=s.superseded_at is None,
        usable=usable,
        superseded_at=s.superseded_at,
    )
    fields = [
        "last_at",
        "last_seq",
        "last_position",
        "last_end",
        "credited_seconds",
        "play_until_check",
        "check_issued_at",
        "heartbeats",
        "flags",
    ]
    if s.superseded_at is not None:  # what it played before the takeover is kept (policy.heartbeat)
        _flag(
            s,
            SuspiciousKind.CONCURRENT,
            at=at,
            ip=ip,
            detail={"superseded_at": s.superseded_at.isoformat(), "credited": round(out.credited, 3)},
        )
        refusal = "superseded"
    elif out.reason == policy.OUTSIDE_VALIDITY:
        refusal = enrol_state if enrol_state in REFUSALS else "expired"
    for kind in out.flags:
        _flag(
            s,
            kind,
            at=at,
            ip=ip,
            detail={
                "seq": seq,
                "start": start,
                "position": position,
                "frontier": policy.frontier_of(progress.intervals),
            },
        )
    if policy.ip_changed(s.ip, ip):
        _flag(s, SuspiciousKind.IP_CHANGE, at=at, ip=ip, detail={"first_ip": s.ip})
    st = out.state
    s.last_at, s.last_seq, s.last_position, s.last_end = (
        st.last_at,
        st.last_seq,
        st.last_position,
        st.last_end,
    )
    s.credited_seconds, s.play_until_check, s.check_issued_at = (
        st.session_credited,
        st.play_until_check,
        st.check_issued_at,
    )
    if out.issue_check:
        s.check_token = secrets.token_hex(8)
        fields.append("check_token")
    s.heartbeats += 1
    s.save(update_fields=fields)
    # A superseded player's late report adds what it earned, but where the learner is now is the
    # current player's to say (the next page resumes there).
    moved = s.superseded_at is None and progress.last_position != st.last_position
    if out.credited_interval is not None or moved:
        progress.intervals = out.intervals
        progress.watched_seconds = policy.covered_seconds(out.intervals)
        progress.furthest_position = policy.frontier_of(out.intervals)
        if s.superseded_at is None:
            progress.last_position = st.last_position
        progress.updated_at = at
        pfields = ["intervals", "watched_seconds", "furthest_position", "last_position", "updated_at"]
        if out.completed_now and progress.completed_at is None:
            progress.completed_at = at
            pfields.append("completed_at")
            audit_record(
                "learning.chapter_completed",
                actor=user,
                subject=progress,
                at=at,
                ip=ip,
                data={
                    "chapter": s.chapter_id,
                    "enrolment": s.enrolment_id,
                    "session": s.pk,
                    "watched_seconds": round(progress.watched_seconds, 1),
                    "duration": duration,
                },
            )
        progress.save(update_fields=pfields)
    return out, progress, duration, refusal


def _result(
    s: PlaySession,
    progress: ChapterProgress,
    duration: float,
    credited: float,
    reason: str,
    completed_now: bool,
    at: datetime,
) -> HeartbeatResult:
    issued = s.check_issued_at
    pending = issued is not None
    return HeartbeatResult(
        credited=round(credited, 3),
        reason=reason,
        watched_seconds=round(progress.watched_seconds, 3),
        watched_share=policy.watched_share(progress.intervals, duration),
        frontier=policy.frontier_of(progress.intervals),
        duration=duration,
        completed=progress.completed_at is not None,
        completed_now=completed_now,
        attention_token=s.check_token if pending else "",
        attention_deadline=(
            policy.ATTENTION_ANSWER_WINDOW - (at - issued).total_seconds() if issued is not None else 0.0
        ),
    )


def attention_answer(
    *, user: User, key: str, token: str, at: datetime | None = None, rand: Callable[[], float] = random.random
) -> PlaySession:
    """ "请确认您仍在学习" answered: crediting resumes and the next check is scheduled."""
    at = at or timezone.now()
    _check_learner(user)
    with transaction.atomic():
        s = _load(user, key)
        if s.ended_at is not None:
            raise _refuse("ended")
        if s.superseded_at is not None:
            raise _refuse("superseded")
        if s.check_issued_at is None:
            raise _refuse("no_check")
        if not secrets.compare_digest(s.check_token, token or ""):
            raise _refuse("bad_check")
        st = policy.attention_answered(_stream_state(s), u=rand())
        s.check_issued_at, s.play_until_check, s.check_token = st.check_issued_at, st.play_until_check, ""
        s.save(update_fields=["check_issued_at", "play_until_check", "check_token"])
    return s


def play_end(*, user: User, key: str, at: datetime | None = None) -> PlaySession:
    """The player closed (or the learner left the page). Idempotent."""
    at = at or timezone.now()
    with transaction.atomic():
        s = _load(user, key)
        if s.ended_at is None:
            s.ended_at = at
            s.save(update_fields=["ended_at"])
    return s


def session_is_current(session: PlaySession) -> bool:
    return session.ended_at is None and session.superseded_at is None


# =============================================================================================
# Courseware: the transcoding job (run by tasks.transcode_chapter_video, never in a request).
# =============================================================================================
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from django.core.files import File  # noqa: E402

from cpe.core import storage as stores  # noqa: E402

from . import courseware  # noqa: E402
from .models import ChapterVideo, VideoStatus  # noqa: E402


def video_enqueue(video: ChapterVideo) -> None:
    """A new source: mark it pending and hand it to the worker once the upload is committed."""
    from .tasks import transcode_chapter_video

    ChapterVideo.objects.filter(pk=video.pk).update(status=VideoStatus.PENDING, progress=0, error="")
    transaction.on_commit(lambda: transcode_chapter_video.delay(video.pk))


def video_transcode(video_id: int) -> str:
    """Probe the source's duration and make its AES-128 HLS rendition. Idempotent: a ready
    video is left alone; a redelivered job (Redis visibility timeout) runs under a new job
    token and only the newest run may publish its output, so a duplicate never mixes files.
    ffmpeg works on local files only: the source is fetched into a private temporary directory
    (unless the source storage is the local filesystem), the rendition is written there and then
    uploaded to the courseware storage; the AES key never leaves the temporary directory except
    into the database."""
    token = secrets.token_hex(8)
    with transaction.atomic():
        v = ChapterVideo.objects.select_for_update().filter(pk=video_id).first()
        if v is None:
            return "missing"
        if v.status == VideoStatus.READY and courseware.rendition_exists(v.hls_dir):
            return "ready"
        v.status, v.progress, v.error, v.job_token = VideoStatus.PROCESSING, 0, "", token
        v.save(update_fields=["status", "progress", "error", "job_token"])
    mine = ChapterVideo.objects.filter(pk=video_id, job_token=token)
    rel = f"{v.chapter_id}/{v.pk}-{token}"
    renditions = courseware.rendition_storage()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src = _local_source(v, Path(tmp))
            duration, key = _transcode_into(src, Path(tmp), mine)
            _publish(Path(tmp) / "out", renditions, rel)
        with transaction.atomic():
            v = ChapterVideo.objects.select_for_update().select_related("chapter").get(pk=video_id)
            if v.job_token != token:  # a newer run owns the video now
                stores.delete_folder(renditions, rel)
                return "superseded"
            old = v.hls_dir
            v.status, v.progress, v.duration, v.hls_dir, v.key_hex = (
                VideoStatus.READY,
                100,
                duration,
                rel,
                key.hex(),
            )
            v.ready_at = timezone.now()
            v.save(update_fields=["status", "progress", "duration", "hls_dir", "key_hex", "ready_at"])
            v.chapter.duration_seconds = max(1, round(duration))
            v.chapter.save(update_fields=["duration_seconds"])
            audit_record(
                "learning.video_ready",
                subject=v,
                data={"chapter": v.chapter_id, "duration": round(duration, 2)},
            )
        if old and old != rel:
            stores.delete_folder(renditions, old)
        return "ready"
    except Exception as exc:  # the editor sees the error; the job does not retry a bad file
        log.warning("transcode of video %s failed: %s", video_id, exc)
        try:
            stores.delete_folder(renditions, rel)
        except Exception:  # the store is down: the half-written folder stays; nothing names it
            log.warning("could not delete the partial rendition %s", rel)
        mine.update(status=VideoStatus.FAILED, error=str(exc)[:2000])
        return "failed"


def _local_source(v: ChapterVideo, tmp: Path) -> str:
    """A local path of the video's source: the file itself on the filesystem storage, else a
    copy fetched into `tmp`."""
    store = v.source.storage
    name: str = v.source.name  # type: ignore[assignment]  # a video being transcoded has its source
    try:
        return store.path(name)
    except NotImplementedError:  # an object store has no local path
        pass
    local = tmp / ("source" + Path(name).suffix)
    with store.open(name, "rb") as remote, open(local, "wb") as out:
        shutil.copyfileobj(remote, out, 1024 * 1024)
    return str(local)


def _transcode_into(src: str, tmp: Path, mine: QuerySet[ChapterVideo]) -> tuple[float, bytes]:
    """Check and probe `src`, then write its AES-128 HLS rendition into tmp/out. Returns the
    duration and the key. Raises RuntimeError with the editor's message on a bad file."""
    # The upload form checks these too; a source that came another way is checked here.
    problem = policy.video_upload_problem(size=os.path.getsize(src), head=courseware.sniff(src))
    if problem:
        raise RuntimeError(problem)
    probe = subprocess.run(courseware.ffprobe_cmd(src), capture_output=True, text=True, timeout=120)
    demuxer = courseware.probe_format_name(probe.stdout)
    if probe.returncode == 0 and not policy.video_demuxer_allowed(demuxer):
        raise RuntimeError(policy.VIDEO_FORMAT_MESSAGE)
    duration, fps = courseware.parse_probe(probe.stdout)
    if probe.returncode != 0 or duration <= 0:
        raise RuntimeError("无法读取视频时长，请确认上传的是有效的视频文件。" + probe.stderr[-300:])
    out_dir = tmp / "out"
    out_dir.mkdir()
    key = secrets.token_bytes(16)
    key_file, key_info = tmp / "k", tmp / "keyinfo"
    key_file.write_bytes(key)
    key_info.write_text(f"{courseware.KEY_URI_PLACEHOLDER}\n{key_file}\n{secrets.token_hex(16)}\n")
    proc = subprocess.Popen(
        courseware.ffmpeg_hls_cmd(src, out_dir, key_info, fps),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None  # both piped above
    last = 0
    for line in proc.stdout:
        if line.startswith("out_time_us=") or line.startswith("out_time_ms="):
            try:
                pct = min(99, int(int(line.split("=", 1)[1]) / 1e6 / duration * 100))
            except ValueError:
                continue
            if pct >= last + 5:
                last = pct
                mine.update(progress=pct)
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise RuntimeError("转码失败：" + err[-500:])
    return duration, key


_RENDITION_TYPES = {".ts": "video/mp2t", ".m3u8": "application/vnd.apple.mpegurl"}


def _publish(out_dir: Path, store: Storage, rel: str) -> None:
    """Upload the rendition's segments, then its playlist last: a folder with a playlist is
    complete."""
    files = sorted(out_dir.iterdir(), key=lambda p: (p.name == courseware.PLAYLIST_NAME, p.name))
    for f in files:
        if f.suffix not in _RENDITION_TYPES:
            continue  # nothing but segments and the playlist leaves the temporary directory
        with open(f, "rb") as fh:
            content = File(fh, name=f.name)
            # Not an attribute of File: the S3 storages read it for the object's Content-Type.
            content.content_type = _RENDITION_TYPES[f.suffix]  # type: ignore[attr-defined]
            store.save(f"{rel}/{f.name}", content)
