"""Learning rules (rules R4.3-4.5, R7). Pure functions."""

import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from cpe.accounts.policy import hold_allows
from cpe.accounts.states import AccountStatus
from cpe.core.timewin import Window  # noqa: F401 (re-exported for selectors)

REMINDER_DAYS_BEFORE = (7, 1)  # rules R4.5: SMS and e-mail 7 days and 1 day before expiry


def validity_window(paid_at: datetime, days: int) -> Window:
    """开通 at payment: valid in [paid_at, paid_at + days) (rules R4.3, agreement §4.2)."""
    return Window(paid_at, paid_at + timedelta(days=days))


def enrolment_usable(*, closed: bool, window: Window, at: datetime) -> bool:
    """Study and exams only inside the window and only if not closed by a refund (rules R4.4)."""
    return not closed and window.contains(at)


def enrolment_state(*, closed: bool, window: Window, at: datetime) -> str:
    if closed:
        return "closed"
    if at < window.start:
        return "not_started"
    return "valid" if window.contains(at) else "expired"


def reminders_due(*, valid_until: datetime, already_sent: list[int], at: datetime) -> list[int]:
    """Which of the 7-day / 1-day reminders are due now and not yet sent. A reminder is due
    once `at` is within that many days of the end and the window has not ended."""
    if at >= valid_until:
        return []
    left = valid_until - at
    return [d for d in REMINDER_DAYS_BEFORE if left <= timedelta(days=d) and d not in already_sent]


# =============================================================================================
# Progress is measured by the server (rules R7.2-7.4). Everything below is pure: times are
# server receipt times passed in, randomness is passed in, nothing the browser says about
# time is used. Positions are seconds into the chapter's video.
# =============================================================================================
from dataclasses import dataclass, replace  # noqa: E402

HEARTBEAT_INTERVAL = 30  # s; rules R7.2 "every 30 s (a setting)": settings.LEARNING_HEARTBEAT_SECONDS
JITTER_TOLERANCE = 2.0  # s a single report may exceed the wall time since the previous one
SEEK_TOLERANCE = 5.0  # s beyond the watched frontier where playback may (re)start
COMPLETION_TOLERANCE = 3.0  # s of a chapter that may stay unwatched (start/end rounding)
ATTENTION_CHECK_EVERY = 15 * 60  # s of play between attention checks, on average (rules R7.4)
ATTENTION_CHECK_SPREAD = 0.3  # ± share of ATTENTION_CHECK_EVERY, drawn by the caller
ATTENTION_ANSWER_WINDOW = 60  # s to answer before crediting stops (rules R7.4)
MAX_SEQ = 2**31 - 1  # largest heartbeat sequence number (PlaySession.last_seq is a 32-bit column)
SIGNED_URL_TTL = 10 * 60  # s a signed segment/key URL lives (plus its segment's offset)

# Why a report earned nothing (or less than claimed). Stable codes for the API and the tests.
SUPERSEDED = "superseded"  # another player became the account's current stream
OUTSIDE_VALIDITY = "outside_validity"  # enrolment expired, not started or closed
CHECK_OVERDUE = "check_overdue"  # an attention check went unanswered for 60 s
REPLAY = "replay"  # a report with a sequence number already seen
CLOCK = "clock"  # server time not after the previous accepted report
SKIP = "skip"  # playback started beyond the watched frontier
RATE = "rate"  # more position than wall time (faster than 1×)
CAPPED = "capped"  # within jitter, but over the session's wall-time budget
ENDED = "ended"  # the play session was ended

SUSPICIOUS_KINDS = (SKIP, RATE, "concurrent", "ip_change", REPLAY, "revoked", "unbound")


# --- intervals --------------------------------------------------------------------------------
def merge_intervals(
    intervals: Iterable[Sequence[float]], add: Sequence[float] | None = None
) -> list[list[float]]:
    """The union of [start, end) intervals, sorted and merged (touching ones join)."""
    items = [list(map(float, i)) for i in intervals if i[1] > i[0]]
    if add is not None and add[1] > add[0]:
        items.append([float(add[0]), float(add[1])])
    items.sort()
    out: list[list[float]] = []
    for a, b in items:
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def covered_seconds(intervals: Iterable[Sequence[float]]) -> float:
    return _length(merge_intervals(intervals))


def _length(merged: Iterable[Sequence[float]]) -> float:
    return sum(b - a for a, b in merged)


def _inside(merged: Iterable[Sequence[float]], a: float, b: float) -> bool:
    """[a, b] lies within one of the merged intervals (already credited)."""
    return any(x <= a and b <= y for x, y in merged)


def frontier_of(intervals: Iterable[Sequence[float]]) -> float:
    """The furthest point watched: the end of the furthest credited interval."""
    return max((b for _, b in intervals), default=0.0)


def chapter_complete(intervals: Iterable[Sequence[float]], duration: float) -> bool:
    """Complete when the credited intervals cover the whole length, less a tolerance of a few
    seconds for the player's start and end (rules R7.2 "its whole length has been watched")."""
    return covers_chapter(covered_seconds(intervals), duration)


def covers_chapter(covered: float, duration: float) -> bool:
    """chapter_complete, from the seconds the merged intervals cover."""
    return covered >= max(0.0, duration - COMPLETION_TOLERANCE)


def watched_share(intervals: Iterable[Sequence[float]], duration: float) -> float:
    """0-1, for display; 1 once complete."""
    return share_of(covered_seconds(intervals), duration)


def share_of(covered: float, duration: float) -> float:
    """watched_share, from the seconds the merged intervals cover."""
    if duration <= 0:
        return 0.0
    if covers_chapter(covered, duration):
        return 1.0
    return min(1.0, covered / duration)


def seek_allowed(target: float, intervals: Iterable[Sequence[float]]) -> bool:
    """The player may go anywhere already watched, and up to SEEK_TOLERANCE beyond the
    furthest point (rules R7.2 "forbids seeking beyond the furthest point watched")."""
    return target <= frontier_of(intervals) + SEEK_TOLERANCE


def resume_position(*, intervals: Iterable[Sequence[float]], last_position: float, duration: float) -> float:
    """Where a new player starts: where the learner left off, never beyond the frontier; from
    the start again once the chapter is complete and they were at its end."""
    pos = min(max(0.0, last_position), frontier_of(intervals))
    if duration and pos >= duration - COMPLETION_TOLERANCE:
        return 0.0
    return pos


# --- attention checks -------------------------------------------------------------------------
def next_attention_check(u: float) -> float:
    """Seconds of play until the next attention check: ATTENTION_CHECK_EVERY ± SPREAD, from a
    uniform draw u in [0, 1) the caller makes (rules R7.4 "at random intervals")."""
    u = min(max(u, 0.0), 1.0)
    return ATTENTION_CHECK_EVERY * (1 - ATTENTION_CHECK_SPREAD + 2 * ATTENTION_CHECK_SPREAD * u)


def check_overdue(check_issued_at: datetime | None, at: datetime) -> bool:
    """No answer within ATTENTION_ANSWER_WINDOW: crediting stops until answered (rules R7.4)."""
    return check_issued_at is not None and (at - check_issued_at).total_seconds() > ATTENTION_ANSWER_WINDOW


# --- heartbeats -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamState:
    """What the server remembers of one play session between reports."""

    started_at: datetime
    last_at: datetime  # server time of the previous accepted report (or the start)
    last_seq: int = 0
    last_position: float = 0.0
    last_end: float = 0.0  # where the previous report's credit ended (<= last_position)
    session_credited: float = 0.0  # seconds credited in this play session
    play_until_check: float = ATTENTION_CHECK_EVERY  # credited seconds left before the next check
    check_issued_at: datetime | None = None


@dataclass(frozen=True)
class Report:
    """One heartbeat as the player sends it: its sequence number, where the current stretch of
    continuous playback began (after a seek or resume) and where it is now. Nothing else the
    browser says is used."""

    seq: int
    start: float
    position: float


@dataclass(frozen=True)
class Outcome:
    state: StreamState
    intervals: list
    credited: float = 0.0
    reason: str = ""  # "" when credited normally, else why (not) less
    flags: tuple = ()  # suspicious patterns seen in this report
    issue_check: bool = False  # an attention check is due now
    completed_now: bool = False
    credited_interval: tuple | None = None
    covered: float = 0.0  # seconds the intervals cover after this report


def heartbeat(
    *,
    state: StreamState,
    report: Report,
    intervals: Iterable[Sequence[float]],
    duration: float,
    at: datetime,
    is_current: bool,
    usable: bool,
    superseded_at: datetime | None = None,
) -> Outcome:
    """Judge one heartbeat (rules R7.2-7.4). Credit is the played stretch [start, position],
    provided it starts inside the watched frontier + SEEK_TOLERANCE, and at most:
      * the wall time since the previous accepted report + JITTER_TOLERANCE (1×), and
      * the wall time since the play session started, less what it was already credited, so a
        script posting many or inflated reports never earns more than real time.
    Nothing while an attention check is overdue, outside the enrolment's validity, or for a
    stream that is not the account's current one and has no takeover time. A report that
    claims again from before the previous report's position (that report's answer was lost)
    continues from where the previous report's credit ended, so nothing is credited twice.

    A takeover (another window or device opened the player at `superseded_at`) judges the old
    player's report only up to that moment: what it played while it was the current stream is
    kept (capped by the wall time until the takeover, with no jitter allowance, so the two
    players never both earn the same seconds), and its reason stays SUPERSEDED, never RATE: a
    cut made by the takeover is not a speed claim. Once the takeover time
    is reached nothing more is credited. The new player is a new play session with its own
    state: its first report is judged from its own start only."""
    intervals = merge_intervals(intervals)
    covered = _length(intervals)
    was_complete = covers_chapter(covered, duration)
    if not is_current and superseded_at is None:
        return Outcome(state, intervals, reason=SUPERSEDED, covered=covered)
    if not usable:
        return Outcome(state, intervals, reason=OUTSIDE_VALIDITY, covered=covered)
    if report.seq <= state.last_seq:
        return Outcome(state, intervals, reason=REPLAY, flags=(REPLAY,), covered=covered)
    until = at if is_current or superseded_at is None else min(at, superseded_at)
    elapsed = (until - state.last_at).total_seconds()
    if elapsed <= 0:
        if not is_current:  # the takeover came before anything this report could claim
            return Outcome(replace(state, last_seq=report.seq), intervals, reason=SUPERSEDED, covered=covered)
        # A node whose clock is behind the one that took the previous report: take nothing,
        # keep the later time (no error, the next report is judged from it).
        return Outcome(replace(state, last_seq=report.seq), intervals, reason=CLOCK, covered=covered)

    start = max(0.0, min(float(report.start), duration))
    position = max(0.0, min(float(report.position), duration))
    if state.last_seq and start == state.last_position and state.last_end < start:
        # Continuous playback since the previous report, whose credit was cut short (network
        # jitter, or a claim faster than 1x): this stretch continues where that credit ended.
        start = state.last_end
    elif (
        state.last_seq
        and start <= state.last_end
        and start < state.last_position <= position
        and _inside(intervals, start, state.last_end)
    ):
        # A claim again from an earlier point: the player heard no answer to the previous
        # report (a 502 from a node that died after judging it, a lost connection) and claims
        # from the last point it saw acknowledged. What that report was credited is not claimed
        # twice: the stretch continues from where its credit ended, and only that part is
        # measured against the wall time since it (so neither a speed claim nor a loss).
        start = state.last_end
    if check_overdue(state.check_issued_at, at):
        moved = replace(state, last_at=until, last_seq=report.seq, last_position=position, last_end=position)
        return Outcome(moved, intervals, reason=CHECK_OVERDUE, covered=covered)

    frontier = frontier_of(intervals)
    flags: list[str] = []
    if start > frontier + SEEK_TOLERANCE:
        moved = replace(state, last_at=until, last_seq=report.seq, last_position=position, last_end=position)
        return Outcome(moved, intervals, reason=SKIP, flags=(SKIP,), covered=covered)
    claimed = max(0.0, position - start)
    budget = max(0.0, (until - state.started_at).total_seconds() - state.session_credited)
    jitter = JITTER_TOLERANCE if is_current else 0.0
    cap = max(0.0, min(elapsed + jitter, budget))
    reason = "" if is_current else SUPERSEDED
    # Speed is judged against the real wall time since the previous report, whether or not a
    # takeover cuts what may be credited of it.
    if claimed > (at - state.last_at).total_seconds() + JITTER_TOLERANCE:
        flags.append(RATE)
        reason = reason or RATE
    credit = min(claimed, cap)
    if credit < claimed and not reason:
        reason = CAPPED
    end = start + credit
    new_intervals = merge_intervals(intervals, (start, end)) if credit > 0 else intervals
    new_covered = _length(new_intervals)
    play_left = state.play_until_check - credit
    issue = state.check_issued_at is None and play_left <= 0
    new_state = replace(
        state,
        last_at=until,
        last_seq=report.seq,
        last_position=position,
        last_end=end,
        session_credited=state.session_credited + credit,
        play_until_check=play_left,
        check_issued_at=at if issue else state.check_issued_at,
    )
    return Outcome(
        new_state,
        new_intervals,
        credited=new_covered - covered,
        reason=reason,
        flags=tuple(flags),
        issue_check=issue,
        completed_now=not was_complete and covers_chapter(new_covered, duration),
        credited_interval=(start, end) if credit > 0 else None,
        covered=new_covered,
    )


def attention_answered(state: StreamState, *, u: float) -> StreamState:
    """An answered check clears it and schedules the next one, randomised by the caller's u."""
    return replace(state, check_issued_at=None, play_until_check=next_attention_check(u))


def ip_changed(session_ip: str | None, ip: str | None) -> bool:
    """A report from another address than the one that started the session (recorded for
    staff; mobile networks change address legitimately, so it earns no penalty)."""
    return bool(session_ip and ip and session_ip != ip)


# --- who may earn credit now (the account's standing and the player's web session) -----------
# A play token is a bearer credential: on its own it proves only that some browser once started
# the play session. Each report must also come with the web session the player was started in,
# from an account that may still study, and from a play session not revoked since.
REVOKED_GRACE = HEARTBEAT_INTERVAL * 1.5  # s: a player still running when its session was revoked
#                                            sends one more report, is told, and stops


def account_standing(*, is_staff: bool, status: str, is_active: bool, on_hold: bool, banned: bool) -> str:
    """Why the account may not earn study credit now ("" when it may): staff never study; a
    terminated or closed account (rules R12, R11; agreement §3.2) and a banned one (rules R12) stops at
    once; a "needs correction" hold blocks studying (rules R1.8, accounts.policy.hold_allows)."""
    if is_staff:
        return "not_learner"
    if status == AccountStatus.TERMINATED:
        return "terminated"
    if status == AccountStatus.CLOSED or not is_active:
        return "account_closed"
    if banned:
        return "banned"
    if not hold_allows("study", on_hold=on_hold):
        return "on_hold"
    return ""


def session_bound(bound: str, presented: str | None) -> bool:
    """A report counts only from the web session the play session was started in (rules R1.7
    "an account is one person's", R7.3): both are keyed hashes of the session key; a play
    session bound to none (made outside a request) and a request without one never match."""
    if not bound or not presented:
        return False
    return hmac.compare_digest(bound, presented)


def revoked_replay(revoked_at: datetime | None, at: datetime) -> bool:
    """A report on a revoked play session later than REVOKED_GRACE after the revocation: the
    player was told to stop and a client kept reporting (a replayed token), which staff should
    see among the suspicious patterns."""
    return revoked_at is not None and (at - revoked_at).total_seconds() > REVOKED_GRACE


# --- chapter video uploads (staff) ----------------------------------------------------------------
# ffmpeg opens whatever its probe recognises: an "mp4" that is really an HLS playlist or an
# ffconcat script makes it fetch URLs or read other local files (another chapter's source, the
# server's files). Only these containers are accepted, by their first bytes and by the demuxer
# ffprobe names; ffmpeg/ffprobe are also run with these demuxers and the file protocol only
# (courseware.FFMPEG_INPUT_GUARD).
VIDEO_MAX_BYTES = 4 * 1024**3  # a 45-minute 1080p lecture is ~1-2 GB
VIDEO_CONTAINERS = ("mp4", "mkv", "flv")  # mp4 = ISO BMFF incl. QuickTime .mov; mkv incl. WebM
VIDEO_DEMUXERS = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "flv")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".flv")
VIDEO_SNIFF_BYTES = 12
# ISO BMFF / QuickTime: the first box's type (bytes 4-8).
_BMFF_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
VIDEO_FORMAT_MESSAGE = "只能上传 MP4、MOV、MKV、WebM 或 FLV 格式的视频文件。"


def video_container(head: bytes) -> str | None:
    """The container named by a file's first VIDEO_SNIFF_BYTES bytes, or None when it is none
    of VIDEO_CONTAINERS (a playlist, a script, an image...). Source: ISO/IEC 14496-12 §4.2
    (box header), Matroska/EBML magic 1A 45 DF A3, FLV header "FLV" version 1; attacker review."""
    if len(head) >= 8 and head[4:8] in _BMFF_FIRST_BOXES:
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "mkv"
    if head[:4] == b"FLV\x01":
        return "flv"
    return None


def video_demuxer_allowed(format_name: str) -> bool:
    """ffprobe's format_name (e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "flv", "hls")
    is one of the allowed demuxers."""
    names = [n for n in (format_name or "").split(",") if n]
    return bool(names) and all(n in VIDEO_DEMUXERS for n in names)


def video_upload_problem(*, size: int, head: bytes) -> str:
    """Why an uploaded lecture is refused, in Chinese, or "" when it may be transcoded."""
    if size > VIDEO_MAX_BYTES:
        return f"视频文件不能超过 {VIDEO_MAX_BYTES // 1024**3} GB。"
    if video_container(head) is None:
        return VIDEO_FORMAT_MESSAGE
    return ""
