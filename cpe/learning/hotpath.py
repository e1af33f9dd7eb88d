"""The heartbeat hot path (ADR 0003 "Speed"). Play-session state lives in Redis while a player
plays; every heartbeat is judged by the same `policy.heartbeat` the ORM path uses, against
that state, and committed with a compare-and-set (a Lua script checks the state's version and
the account's current-stream marker), so concurrent reports of one session serialise: the
loser re-reads and is judged again. Credit is written behind to PostgreSQL by `flush_*`
(a Celery beat task every heartbeat interval, and synchronously on play end, on completion,
on a new play start and on reads that need fresh data), idempotently: the stored intervals
become the union of what PostgreSQL had and the session's state, so flushing twice, or two
flushers at once, changes nothing more. Redis losing its data loses at most what was credited
since the last flush (one interval); a web process dying loses nothing (no process state).

Selected by settings.LEARNING_HOTPATH ("redis" or "orm"; default "redis" when REDIS_URL is
set). Keys (prefix settings.LEARNING_HOTPATH_PREFIX, default "<cache prefix>:play:"):
    s:<session key>  hash {v: version, u: user id, j: state JSON}
    c:<user id>      the account's current stream: a session key, "-" none, "!elsewhere"
    dirty            set of session keys whose state is newer than PostgreSQL
"""

import functools
import hashlib
import hmac
import json
import logging
import random
import secrets
from collections import OrderedDict
from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.dispatch import receiver
from django.test.signals import setting_changed
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes

from cpe.core import redis_wire
from cpe.core.rows import FixedQuery

from . import policy
from .errors import LearningError

log = logging.getLogger(__name__)
UTC = dt_timezone.utc
STATE_TTL_MS = 12 * 3600 * 1000  # an idle session's state expires (after it was flushed)
MAX_TRIES = 50  # compare-and-set retries of one report
HINTS_MAX = 20000  # play sessions this process remembers (about 2 KB each)
NO_STREAM = "-"
ELSEWHERE = "!elsewhere"  # the account signed in elsewhere or out: every player stops


class SignedOut(LearningError):
    """The account's web session ended (signed in elsewhere, or out): like the API's 401."""

    @property
    def status(self) -> int:
        return 401


# --- configuration; Redis itself is cpe.core.redis_wire (connections per process: no state) ----
_conf = None


def _config():
    global _conf
    if _conf is None:
        mode = getattr(settings, "LEARNING_HOTPATH", None) or (
            "redis" if getattr(settings, "REDIS_URL", "") else "orm"
        )
        url = getattr(settings, "LEARNING_HOTPATH_REDIS_URL", None) or getattr(settings, "REDIS_URL", "")
        prefix = (
            getattr(settings, "LEARNING_HOTPATH_PREFIX", None)
            or (settings.CACHES.get("default", {}).get("KEY_PREFIX") or "cpe") + ":play:"
        )
        _conf = (mode == "redis" and bool(url), url, prefix)
    return _conf


@receiver(setting_changed)
def _reset_config(**kwargs):
    global _conf
    _conf = None


def enabled() -> bool:
    return _config()[0]


def prefix() -> str:
    return _config()[2]


def client():
    """redis-py's client for the hot path's Redis (cpe.core.redis_wire: one per process)."""
    return redis_wire.client(_config()[1])


def _run(name: str, keys, args):
    """One of the scripts below, on the hot path's Redis (over the plain-socket wire for
    redis:// URLs). Each script is idempotent (a read, a write that holds once applied, or the
    commit's compare-and-set, which recognises its own new version), so the wire may send it
    again once on a fresh connection when the first try broke after it was written
    (cpe/core/redis_wire.py)."""
    return redis_wire.evalsha(_config()[1], _SCRIPTS[name], keys, args, idempotent=True)


def _needs_redis(fn):
    """Redis unreachable, or its connection broken where the command could not be sent again
    (cpe.core.redis_wire): the request is refused with a clear 503 ("unavailable"), not a 500.
    What was acknowledged before is in Redis or PostgreSQL already; this report was not
    acknowledged, and the player claims its time again in a later report."""

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except redis_wire.UNAVAILABLE as exc:
            log.warning("play state: redis unavailable: %s", exc)
            raise _refuse("unavailable") from exc

    return guarded


_token_keys: dict = {}


def play_token(key: str) -> str:
    """The per-play-session credential the player sends in X-Play-Token: an HMAC of the session
    key under SECRET_KEY, so it is checked without a look-up and cannot be derived from the key
    (which appears in URLs and logs)."""
    secret = settings.SECRET_KEY
    derived = _token_keys.get(secret)
    if derived is None:  # salted_hmac's key derivation, done once per process
        derived = _token_keys[secret] = hashlib.sha256(
            b"cpe.learning.play-token" + force_bytes(secret)
        ).digest()
    return hmac.digest(derived, key.encode(), "sha256").hex()  # one call: OpenSSL's one-shot HMAC


def token_valid(key: str, token: str) -> bool:
    return bool(token) and constant_time_compare(play_token(key), token)


# --- Lua: each one atomic on the Redis server -------------------------------------------------
_SCRIPTS = {
    # state and the current-stream marker in one round trip
    "load": """
local r = redis.call('HMGET', KEYS[1], 'v', 'u', 'j')
if not r[1] then return false end
local cur = redis.call('GET', ARGV[1] .. 'c:' .. r[2])
return {r[1], r[3], cur or ''}
""",
    # compare-and-set: the version the report was judged on and the current-stream verdict must
    # both still hold; if not, the state as it is now comes back (judged again, no second trip).
    # Idempotent, so that it may be sent again when the connection broke after it was written
    # (the reply lost): a state already at this commit's new version (ARGV[8], 48 random bits,
    # never reused) means this very commit was applied, and it answers 1 again without writing.
    # So a report is credited once, and acknowledged, however often its commit arrives.
    "commit": """
local r = redis.call('HMGET', KEYS[1], 'v', 'j')
if not r[1] then return false end
if r[1] == ARGV[8] then return 1 end
local cur = redis.call('GET', ARGV[3]) or ''
if r[1] ~= ARGV[1] or ((cur == ARGV[4]) and '1' or '0') ~= ARGV[5] then return {r[1], r[2], cur} end
redis.call('HSET', KEYS[1], 'v', ARGV[8], 'j', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if ARGV[7] == '1' then redis.call('SADD', KEYS[2], ARGV[4]) end
return 1
""",
    # written once from PostgreSQL when the state is missing (expired, Redis restarted)
    "put_nx": """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[4], 'u', ARGV[1], 'j', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
""",
    # the flusher's snapshot of a batch: version and state of each key ('' when it has none)
    "snapshot": """
local out = {}
for i = 2, #ARGV do
  local r = redis.call('HMGET', ARGV[1] .. 's:' .. ARGV[i], 'v', 'j')
  out[#out + 1] = r[1] or ''
  out[#out + 1] = r[2] or ''
end
return out
""",
    # after a flush: each key clean only if nothing was committed since the snapshot flushed
    # (ARGV: prefix, then key and snapshot version pairs; one call per batch)
    "undirty": """
local n = 0
for i = 2, #ARGV, 2 do
  local v = redis.call('HGET', ARGV[1] .. 's:' .. ARGV[i], 'v')
  if (not v) or v == ARGV[i + 1] then redis.call('SREM', KEYS[1], ARGV[i]) n = n + 1 end
end
return n
""",
}
_SCRIPTS = {name: redis_wire.Script(src) for name, src in _SCRIPTS.items()}


def _k_state(p, key):
    return f"{p}s:{key}"


def _ts(d: datetime | None):
    return d.timestamp() if d is not None else None


def _dt(x):
    return datetime.fromtimestamp(x, UTC) if x is not None else None


# --- state <-> rows ------------------------------------------------------------------------------
def _blocked(user, enrolment, *, banned: bool | None = None, at=None) -> str:
    """Why a play session may no longer earn, from the rows: "" when it may (the account's
    standing, policy.account_standing, then a refund closing the enrolment)."""
    from . import selectors

    standing = selectors.account_standing(user, at or timezone.now(), banned=banned)
    if standing:
        return standing
    if enrolment.status == "closed":
        return "closed"
    return ""


def state_from_rows(s, progress, duration: float, blk: str = "") -> dict:
    e = s.enrolment
    return {
        "u": s.user_id,
        "ch": s.chapter_id,
        "sid": s.pk,
        "e": s.enrolment_id,
        "vf": _ts(e.valid_from),
        "vu": _ts(e.valid_until),
        "blk": blk,
        "d": float(duration),
        "ip": s.ip or "",
        "st": _ts(s.started_at),
        "la": _ts(s.last_at),
        "sq": s.last_seq,
        "lp": s.last_position,
        "le": s.last_end,
        "cr": s.credited_seconds,
        "pc": s.play_until_check,
        "ci": _ts(s.check_issued_at),
        "ct": s.check_token or "",
        "hb": s.heartbeats,
        "fl": list(s.flags or []),
        "end": _ts(s.ended_at),
        "iv": policy.merge_intervals(progress.intervals or []),
        "done": progress.completed_at is not None,
        "cat": None,
        # the web session it is bound to (keyed hash), and its revocation (reason, time)
        "ws": s.web_session or "",
        "rv": s.revoked_reason if s.revoked_at else "",
        "rva": _ts(s.revoked_at),
    }


def _stream_state(d) -> policy.StreamState:
    return policy.StreamState(
        started_at=_dt(d["st"]),
        last_at=_dt(d["la"]),
        last_seq=d["sq"],
        last_position=d["lp"],
        last_end=d["le"],
        session_credited=d["cr"],
        play_until_check=d["pc"],
        check_issued_at=_dt(d["ci"]),
    )


def _apply(d, st: policy.StreamState) -> dict:
    nd = dict(d)
    nd.update(
        la=_ts(st.last_at),
        sq=st.last_seq,
        lp=st.last_position,
        le=st.last_end,
        cr=st.session_credited,
        pc=st.play_until_check,
        ci=_ts(st.check_issued_at),
    )
    return nd


def session_opened(session, progress, duration: float):
    """play_start committed: the new session's state, and it is the account's current stream."""
    r, p = client(), prefix()
    d = state_from_rows(session, progress, duration)
    pipe = r.pipeline(transaction=True)
    pipe.delete(_k_state(p, session.key))
    pipe.hset(
        _k_state(p, session.key), mapping={"v": new_version(), "u": str(session.user_id), "j": json.dumps(d)}
    )
    pipe.pexpire(_k_state(p, session.key), STATE_TTL_MS)
    pipe.set(f"{p}c:{session.user_id}", session.key, px=STATE_TTL_MS)
    pipe.execute()


def stream_switch(user_id: int, key: str):
    """Before a new player's start commits: make it the current stream so the others stop now."""
    client().set(f"{prefix()}c:{user_id}", key, px=STATE_TTL_MS)


def account_signed_out(user_id: int):
    """The account signed in elsewhere or out: every open player stops (rules R1.7)."""
    client().set(f"{prefix()}c:{user_id}", ELSEWHERE, px=STATE_TTL_MS)


def revoke(keys, reason: str, at) -> None:
    """services.play_sessions_revoke committed: mark each play session's state revoked, so its
    next report is refused wherever it arrives (a compare-and-set: a report being judged on
    the old state is judged again). A state Redis does not hold is left alone: when it is
    rebuilt, it is rebuilt from the row, which is revoked."""

    def mark(d, cur):
        return None if d.get("rv") else {**d, "rv": reason, "rva": _ts(at)}

    for key in keys:
        try:
            _update(key, mark, hydrate=False)
        except LearningError:  # no state for it here
            pass
        except Exception:  # Redis down: the flush marks it from the row (flush_keys), the rows refuse
            log.exception("could not revoke play session %s in redis", key)


def _hydrate(r, p, key):
    """The state from PostgreSQL when Redis has none (expired, lost, or started without the
    hot path). Returns False if there is no such play session."""
    from . import selectors
    from .models import ChapterProgress, PlaySession

    s = PlaySession.objects.select_related("enrolment", "chapter", "user").filter(key=key).first()
    if s is None:
        return False
    progress, _ = ChapterProgress.objects.get_or_create(user_id=s.user_id, chapter_id=s.chapter_id)
    d = state_from_rows(s, progress, selectors.chapter_duration(s.chapter), _blocked(s.user, s.enrolment))
    _run("put_nx", [_k_state(p, key)], [str(s.user_id), json.dumps(d), STATE_TTL_MS, new_version()])
    _hydrate_current(r, p, s.user_id)
    return True


def _hydrate_current(r, p, user_id):
    from .models import PlaySession

    cur = (
        PlaySession.objects.filter(user_id=user_id, ended_at__isnull=True, superseded_at__isnull=True)
        .order_by("-started_at", "-pk")
        .values_list("key", flat=True)
        .first()
    )
    r.set(f"{p}c:{user_id}", cur or NO_STREAM, nx=True, px=STATE_TTL_MS)


def _load(r, p, key, *, hydrate=True):
    """(version, state, current marker) or None when there is no such play session (or, with
    hydrate=False, when Redis holds no state for it)."""
    for _ in range(3):
        got = _run("load", [_k_state(p, key)], [p])
        if got is None:
            if not hydrate or not _hydrate(r, p, key):
                return None
            continue
        v, j, cur = got
        d = json.loads(j)
        if not cur:
            _hydrate_current(r, p, d["u"])
            continue
        return v, d, cur.decode()
    raise RuntimeError("play state could not be loaded")


# This process's last view of each play session it served: (version, state, current marker); a
# state dict is never changed once made (each report builds a new one), so it is kept as is.
# Only a hint: a report judged on it commits only if Redis still holds that version (versions
# are random per write, so a state rebuilt after a loss never matches an old hint), and when it
# does not, the commit answers with the state as it is and the report is judged again. It saves
# the read round trip when a player's reports come to the same process (keep-alive).
_hints: OrderedDict = OrderedDict()
_version_rand = random.Random()


def new_version() -> str:
    return "%012x" % _version_rand.getrandbits(48)


def _remember(key, v, d, cur):
    _hints[key] = (v, d, cur)
    while len(_hints) > HINTS_MAX:
        try:
            _hints.popitem(last=False)
        except KeyError:  # another thread emptied it
            break


def _loaded(r, p, key, got):
    """The "load" script's reply as (version, state, current marker); a missing state or
    current-stream marker is rebuilt from PostgreSQL and read again (`_load`)."""
    if got is None or not got[2]:
        return _load(r, p, key)
    v, j, cur = got
    return v, json.loads(j), cur.decode()


def _commit_cmd(p, key, v, nd, cur, *, dirty=True):
    """The compare-and-set's command for a new state: (its new version, (script, keys, args))."""
    nv = new_version()
    keys = [_k_state(p, key), p + "dirty"]
    args = [v, json.dumps(nd), f"{p}c:{nd['u']}", key, "1" if cur == key else "0", STATE_TTL_MS]
    args += ["1" if dirty else "0", nv]
    return nv, ("commit", keys, args)


def _commit(r, p, key, v, nd, cur, *, dirty=True):
    """Compare-and-set. True when committed; otherwise the state as Redis has it now, for the
    caller to judge again: (version, state, current marker), or None when there is none."""
    nv, (name, keys, args) = _commit_cmd(p, key, v, nd, cur, dirty=dirty)
    # sent again after a broken connection: it is idempotent
    return _committed(r, p, key, nv, nd, cur, _run(name, keys, args))


def _committed(r, p, key, nv, nd, cur, got):
    """The commit script's reply: True, or the state to judge again (see `_commit`)."""
    if got == 1:
        _remember(key, nv, nd, cur)
        return True
    _hints.pop(key, None)
    if not got or not got[2]:  # no state, or no current-stream marker: rebuilt from PostgreSQL
        return _load(r, p, key)
    cv, cj, ccur = got
    return cv.decode(), json.loads(cj), ccur.decode()


def _refuse(code):
    from .services import REFUSALS

    if code == "session_elsewhere":
        return SignedOut(code, "您的账号已在其他地方登录或已退出，本窗口已停止计时。")
    return LearningError(code, REFUSALS.get(code, REFUSALS["expired"]))


# --- the hot operations ------------------------------------------------------------------------------
@_needs_redis
def beat(**report):
    """Judge one heartbeat against the Redis state (policy.heartbeat, as the ORM path does) and
    commit it atomically: `beat_steps` with each of its Redis commands sent as it comes."""
    return drive(beat_steps(**report))


def drive(steps):
    """Run a generator of `beat_steps`' kind: each command it yields is sent to the hot path's
    Redis now and the reply sent back in; its return value is the result."""
    reply = None
    while True:
        try:
            name, keys, args = steps.send(reply)
        except StopIteration as stop:
            return stop.value
        reply = _run(name, keys, args)


def beat_steps(
    *,
    key: str,
    seq: int,
    start: float,
    position: float,
    ip=None,
    at=None,
    user_id=None,
    web_session: str | None = None,
):
    """`beat` as a generator, for a server that sends the commands of many reports together:
    it yields each of its two possible hot Redis commands (the read when this process holds no
    hint, the commit) as (script name, keys, args) and expects the script's reply sent back;
    rare steps (a state rebuilt from PostgreSQL, a re-read after a lost state) run inline.
    The judgement is the same whoever sends the commands.

    Judge one heartbeat against the Redis state (policy.heartbeat, as the ORM path does) and
    commit it atomically. `user_id`: the signed-in user when authenticated by the session cookie
    (None when by the play token, which is bound to the key). `web_session`: the keyed hash of
    the request's session cookie ("" without one), which must be the one the play session was
    started in (every request door passes it; None only for callers without a request). A
    revoked play session (sign-out, ban, termination, closing, hold: services.play_sessions_revoke)
    is refused first. Returns services.HeartbeatResult; raises LearningError as
    services.play_heartbeat does."""
    from .services import HeartbeatResult

    at = at or timezone.now()
    r, p = client(), prefix()
    report = policy.Report(seq=int(seq), start=start, position=position)
    loaded = _hints.get(key)  # this process's last view, else read from Redis
    if loaded is None:
        loaded = _loaded(r, p, key, (yield ("load", [_k_state(p, key)], [p])))
    for _ in range(MAX_TRIES):
        if loaded is None:
            raise _refuse("no_session")
        v, d, cur = loaded
        if user_id is not None and d["u"] != user_id:
            raise _refuse("no_session")
        if d["end"] is not None:
            raise _refuse("ended")
        if "ws" not in d:
            d = _legacy_binding(key, d)
        gate, kind = _gate(d, web_session, at)
        if gate:  # nothing is judged or credited; only the pattern is recorded, once
            if not kind or kind in d["fl"]:
                raise _refuse(gate)
            fd = {**d, "fl": d["fl"] + [kind]}
            nv, cmd = _commit_cmd(p, key, v, fd, cur)
            loaded = _committed(r, p, key, nv, fd, cur, (yield cmd))
            if loaded is True:
                _record_flags(d, [kind], at=at, ip=ip, cur=cur, detail={"seq": seq, "reason": gate})
                raise _refuse(gate)
            continue
        enrol_state = policy.enrolment_state(
            closed=d["blk"] == "closed", window=policy.Window(_dt(d["vf"]), _dt(d["vu"])), at=at
        )
        usable = enrol_state == "valid" and not d["blk"]
        takeover = None if cur == key else _takeover_at(key, d, cur, at)
        out = policy.heartbeat(
            state=_stream_state(d),
            report=report,
            intervals=d["iv"],
            duration=d["d"],
            at=at,
            is_current=cur == key,
            usable=usable,
            superseded_at=takeover,
        )
        refusal, kinds = None, list(out.flags)
        if cur != key:  # what it played before the takeover is kept (policy.heartbeat)
            kinds.append("concurrent")
            refusal = "session_elsewhere" if cur == ELSEWHERE else "superseded"
        elif out.reason == policy.OUTSIDE_VALIDITY:
            refusal = d["blk"] or (enrol_state if enrol_state != "valid" else "expired")
        if policy.ip_changed(d["ip"], ip):
            kinds.append("ip_change")
        new_kinds = [k for k in dict.fromkeys(kinds) if k not in d["fl"]]
        nd = _apply(d, out.state)
        nd["hb"] = d["hb"] + 1
        if new_kinds:
            nd["fl"] = d["fl"] + new_kinds
        if out.credited_interval is not None:
            nd["iv"] = out.intervals
        if out.issue_check:
            nd["ct"] = secrets.token_hex(8)
        if out.completed_now:
            nd["done"], nd["cat"] = True, _ts(at)
        if takeover is not None:  # kept, so that a later report is judged against the same time
            nd["sup"] = _ts(takeover)
        nv, cmd = _commit_cmd(p, key, v, nd, cur)
        loaded = _committed(r, p, key, nv, nd, cur, (yield cmd))
        if loaded is True:
            break
    else:
        raise RuntimeError("heartbeat: too much contention on one play session")
    if new_kinds:
        _record_flags(
            nd,
            new_kinds,
            at=at,
            ip=ip,
            cur=cur,
            detail={
                "seq": seq,
                "start": start,
                "position": position,
                "frontier": policy.frontier_of(d["iv"]),
            },
        )
    if out.completed_now:
        flush_keys([key])  # completion is recorded (and audited) now, not in the next flush
    if refusal:
        raise _refuse(refusal)
    iv, duration = nd["iv"], nd["d"]
    pending = nd["ci"] is not None
    return HeartbeatResult(
        credited=round(out.credited, 3),
        reason=out.reason,
        watched_seconds=round(out.covered, 3),
        watched_share=policy.share_of(out.covered, duration),
        frontier=policy.frontier_of(iv),
        duration=duration,
        completed=nd["done"],
        completed_now=out.completed_now,
        attention_token=nd["ct"] if pending else "",
        attention_deadline=(policy.ATTENTION_ANSWER_WINDOW - (at.timestamp() - nd["ci"]) if pending else 0.0),
    )


def _takeover_at(key: str, d: dict, cur: str, at) -> datetime | None:
    """When another player took over from this play session (its row's `superseded_at`, which
    play_start writes under the user-row lock; kept in the state as "sup" once read, so this
    rare path queries once); `at` while that start has not committed yet (the takeover is
    happening now), kept in the state too: the start may never commit (refused under the lock,
    or its process died after switching the stream), and a player that ignores its 409 must not
    be credited up to each later report's time (a start that does commit wrote an earlier time,
    its own start, so the state's is later by at most that start's transaction). None when no
    player took over (signed out or in elsewhere: those stop at once and keep nothing)."""
    if not cur or cur in (NO_STREAM, ELSEWHERE):
        return None
    if d.get("sup") is not None:
        return _dt(d["sup"])
    from .models import PlaySession

    row = PlaySession.objects.filter(key=key).values_list("superseded_at", flat=True).first()
    return row if row is not None else at


def _legacy_binding(key, d) -> dict:
    """A state Redis held from before play sessions were bound to their web session (deploy):
    its digest and revocation from the row, kept in the state by the next commit."""
    from .models import PlaySession

    row = (
        PlaySession.objects.filter(key=key).values("web_session", "revoked_at", "revoked_reason").first()
        or {}
    )
    return {
        **d,
        "ws": row.get("web_session") or "",
        "rv": row.get("revoked_reason") if row.get("revoked_at") else "",
        "rva": _ts(row.get("revoked_at")),
    }


def _gate(d, web_session, at) -> tuple[str, str]:
    """services._gate on the Redis state: (refusal code, suspicious kind to record) for a
    revoked play session or one reported without the web session it was started in."""
    if d.get("rv"):
        return d["rv"], ("revoked" if policy.revoked_replay(_dt(d.get("rva")), at) else "")
    if web_session is not None and not policy.session_bound(d.get("ws", ""), web_session):
        return "unbound", "unbound"
    return "", ""


def _record_flags(d, kinds, *, at, ip, cur, detail):
    """A suspicious pattern, once per play session and kind (the state remembers which were
    recorded, the unique constraint makes it once under races): rare, so written now."""
    from .models import SuspiciousEvent

    for kind in kinds:
        det = (
            {"current": cur}
            if kind == "concurrent"
            else {"first_ip": d["ip"]}
            if kind == "ip_change"
            else detail
        )
        try:
            with transaction.atomic():
                SuspiciousEvent.objects.create(
                    user_id=d["u"],
                    session_id=d["sid"],
                    chapter_id=d["ch"],
                    kind=kind,
                    at=at,
                    ip=ip,
                    detail=det,
                )
        except IntegrityError:
            pass


def _update(key, fn, *, user_id=None, hydrate=True):
    """Read-judge-commit of a non-heartbeat change (fn returns the new state or raises)."""
    r, p = client(), prefix()
    loaded = _load(r, p, key, hydrate=hydrate)  # fresh: these are rare and may answer without a commit
    for _ in range(MAX_TRIES):
        if loaded is None:
            raise _refuse("no_session")
        v, d, cur = loaded
        if user_id is not None and d["u"] != user_id:
            raise _refuse("no_session")
        nd = fn(d, cur)
        if nd is None:
            return d
        loaded = _commit(r, p, key, v, nd, cur)
        if loaded is True:
            return nd
    raise RuntimeError("play state: too much contention")


@_needs_redis
def attention_answer(*, key: str, token: str, user_id=None, at=None, rand=None):
    """ "请确认您仍在学习" answered (same refusals as services.attention_answer)."""
    import random

    rand = rand or random.random

    def answer(d, cur):
        if d["end"] is not None:
            raise _refuse("ended")
        if cur != key:
            raise _refuse("session_elsewhere" if cur == ELSEWHERE else "superseded")
        if d["ci"] is None:
            raise _refuse("no_check")
        if not secrets.compare_digest(d["ct"], token or ""):
            raise _refuse("bad_check")
        nd = _apply(d, policy.attention_answered(_stream_state(d), u=rand()))
        nd["ct"] = ""
        return nd

    return _update(key, answer, user_id=user_id)


@_needs_redis
def end(*, key: str, user_id=None, at=None):
    """The player closed. Idempotent; what it earned is flushed now."""
    at = at or timezone.now()

    def close(d, cur):
        if d["end"] is not None:
            return None
        return {**d, "end": _ts(at)}

    _update(key, close, user_id=user_id)
    flush_keys([key])


# --- write-behind to PostgreSQL -----------------------------------------------------------------------
SESSION_FIELDS = [
    "last_at",
    "last_seq",
    "last_position",
    "last_end",
    "credited_seconds",
    "play_until_check",
    "check_issued_at",
    "check_token",
    "heartbeats",
    "flags",
]
_SESSION_LOAD = [
    "key",
    "user_id",
    "chapter_id",
    "enrolment_id",
    "ended_at",
    "revoked_at",
    "revoked_reason",
    *SESSION_FIELDS,
    "enrolment__status",
    "user__is_staff",
    "user__is_active",
    "user__status",
    "user__correction_reason",
    "user__username",
]
PROGRESS_FIELDS = ["intervals", "watched_seconds", "furthest_position", "last_position", "updated_at"]


def flush_keys(keys) -> int:
    """Write the play sessions' Redis state to PostgreSQL. Idempotent: progress becomes the union
    of the stored and the session's intervals (never less), a session row only moves forward
    (by its heartbeat count), completion is set (and audited) once under the row lock. A key is
    marked clean only if no report was committed after the snapshot written."""
    # Inside the function, as this module's other model imports: the WSGI door imports this
    # module before Django's app registry is ready, and these modules define or import models.
    from cpe.core.audit import audit_record

    from . import selectors
    from .models import ChapterProgress, PlaySession

    keys = list(dict.fromkeys(keys))
    if not keys:
        return 0
    p = prefix()
    got = _run("snapshot", [], [p, *keys])  # one call for the batch
    snaps = {}
    for i, k in enumerate(keys):
        v, j = got[2 * i], got[2 * i + 1]
        snaps[k] = (v or None, json.loads(j) if j else None)
    live = {k: d for k, (v, d) in snaps.items() if d is not None}
    blocked_now, revoked_now = {}, {}
    written = 0
    with transaction.atomic():
        sessions = {s.key: s for s in _batch_sessions(list(live))}
        now = timezone.now()
        banned = selectors.banned_user_ids({s.user_id for s in sessions.values()}, now)
        progress = {(pr.user_id, pr.chapter_id): pr for pr in _batch_progress(live.values())}
        s_dirty, p_dirty, completed = [], {}, []
        for k, d in live.items():
            s = sessions.get(k)
            if s is None:
                continue
            if d["hb"] >= s.heartbeats:
                st = _stream_state(d)
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
                s.check_token, s.heartbeats, s.flags = d["ct"], d["hb"], d["fl"]
                if d["end"] is not None and s.ended_at is None:
                    s.ended_at = _dt(d["end"])
                s_dirty.append(s)
            blk = _blocked(s.user, s.enrolment, banned=s.user_id in banned, at=now)
            if blk != d["blk"]:
                blocked_now[k] = blk
            if s.revoked_at is not None and not d.get("rv"):  # its revocation did not reach Redis
                revoked_now[k] = (s.revoked_reason, s.revoked_at)
            pr = progress.get((d["u"], d["ch"]))
            if pr is None:
                pr, _ = ChapterProgress.objects.get_or_create(user_id=d["u"], chapter_id=d["ch"])
                progress[(d["u"], d["ch"])] = pr
            merged = policy.merge_intervals([*pr.intervals, *d["iv"]])
            # A superseded player's late report ("sup") adds seconds, never the resume point.
            newest = d.get("sup") is None and (pr.updated_at is None or pr.updated_at <= _dt(d["la"]))
            if merged != policy.merge_intervals(pr.intervals) or (newest and pr.last_position != d["lp"]):
                pr.intervals = merged
                pr.watched_seconds = policy.covered_seconds(merged)
                pr.furthest_position = policy.frontier_of(merged)
                if newest:
                    pr.last_position, pr.updated_at = d["lp"], _dt(d["la"])
                if pr.completed_at is None and policy.chapter_complete(merged, d["d"]):
                    pr.completed_at = _dt(d["cat"] or d["la"])
                    completed.append((pr, s, d))
                p_dirty[pr.pk] = pr
        if s_dirty:
            _update_rows(PlaySession, SESSION_FIELDS + ["ended_at"], s_dirty)
        if p_dirty:
            _update_rows(ChapterProgress, PROGRESS_FIELDS, list(p_dirty.values()))
        for pr, s, d in completed:
            ChapterProgress.objects.filter(pk=pr.pk).update(completed_at=pr.completed_at)
            audit_record(
                "learning.chapter_completed",
                actor=s.user,
                subject=pr,
                at=pr.completed_at,
                data={
                    "chapter": s.chapter_id,
                    "enrolment": s.enrolment_id,
                    "session": s.pk,
                    "watched_seconds": round(pr.watched_seconds, 1),
                    "duration": d["d"],
                },
            )
        written = len(s_dirty)
    _run("undirty", [p + "dirty"], [p, *(x for k, (v, _) in snaps.items() for x in (k, v or b""))])
    for k, blk in blocked_now.items():  # a refund, hold or closed account stops the player
        _update(k, lambda d, cur, blk=blk: {**d, "blk": blk} if d["blk"] != blk else None)
    for k, (reason, at) in revoked_now.items():
        revoke([k], reason, at)
    return written


def _batch_sessions(keys):
    """The batch's play sessions, locked, with what `_blocked` reads. On PostgreSQL the keys go
    as one array parameter (`= ANY`): Django's IN prepares each of 500 values on its own."""
    from django.db import connection

    from .models import PlaySession

    qs = (
        PlaySession.objects.select_for_update(of=("self",))
        .select_related("enrolment", "user")
        .only(*_SESSION_LOAD)
        .order_by("pk")
    )
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(PlaySession._meta.db_table)
        return qs.extra(where=[f"{table}.{connection.ops.quote_name('key')} = ANY(%s)"], params=[keys])
    return qs.filter(key__in=keys)


def _batch_progress(states):
    """Exactly the batch's (learner, chapter) progress rows, locked: not every row of its learners
    in any of its chapters, which would load and lock rows that other work may be writing."""
    from django.db import connection

    from .models import ChapterProgress

    pairs = sorted({(d["u"], d["ch"]) for d in states})
    qs = ChapterProgress.objects.select_for_update().order_by("pk")
    if connection.vendor == "postgresql":
        qn, table = connection.ops.quote_name, connection.ops.quote_name(ChapterProgress._meta.db_table)
        return qs.extra(
            where=[
                f"({table}.{qn('user_id')}, {table}.{qn('chapter_id')}) IN "
                f"(SELECT * FROM unnest(%s::bigint[], %s::bigint[]))"
            ],
            params=[[u for u, _ in pairs], [c for _, c in pairs]],
        )
    by_chapter: dict = {}
    for u, ch in pairs:
        by_chapter.setdefault(ch, []).append(u)
    q = Q(pk__in=[])
    for ch, us in by_chapter.items():
        q |= Q(chapter_id=ch, user_id__in=us)
    return qs.filter(q)


def _update_rows(model, names, objs):
    """UPDATE … WHERE pk = %s for each object, one executemany (psycopg pipelines it):
    bulk_update's CASE expressions cost ~2 ms of Python per row."""
    from django.db import connection

    qn = connection.ops.quote_name
    fields = [model._meta.get_field(n) for n in names]
    table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
    if connection.vendor == "postgresql":
        # One statement per batch: UPDATE … FROM unnest(column arrays).
        cols = [f"c{i}" for i in range(len(fields))]
        arrays = []
        for f in fields:
            if f.get_internal_type() == "JSONField":
                arrays.append([json.dumps(getattr(o, f.attname)) for o in objs])
            else:
                cast = {"FloatField": float, "IntegerField": int, "PositiveIntegerField": int}.get(
                    f.get_internal_type()
                )
                vals = [getattr(o, f.attname) for o in objs]
                arrays.append([cast(x) if cast and x is not None else x for x in vals])
        types = [("jsonb" if f.get_internal_type() == "JSONField" else f.db_type(connection)) for f in fields]
        casts = [f"%s::text[]::{ty}[]" if ty == "jsonb" else f"%s::{ty}[]" for ty in types]
        sets = [f"{qn(f.column)} = v.{c}" for f, c in zip(fields, cols, strict=True)]
        sql = (
            f"UPDATE {table} AS t SET {', '.join(sets)} "
            f"FROM unnest(%s::bigint[], {', '.join(casts)}) "
            f"AS v(id, {', '.join(cols)}) WHERE t.{pk} = v.id"
        )
        with connection.cursor() as cur:
            cur.execute(sql, [[o.pk for o in objs], *arrays])
        return
    sql = f"UPDATE {table} SET {', '.join(f'{qn(f.column)} = %s' for f in fields)} WHERE {pk} = %s"
    rows = [[f.get_db_prep_save(getattr(o, f.attname), connection) for f in fields] + [o.pk] for o in objs]
    with connection.cursor() as cur:
        cur.executemany(sql, rows)


def flush_dirty(*, batch: int = 500, limit: int | None = None) -> int:
    """The write-behind flusher (Celery beat, every heartbeat interval): every session whose
    state is newer than PostgreSQL."""
    r, p = client(), prefix()
    total, chunk = 0, []
    for k in r.sscan_iter(p + "dirty", count=batch):  # every member present throughout is seen
        chunk.append(k.decode())
        if len(chunk) >= batch:
            total += flush_keys(chunk)
            chunk = []
    return total + flush_keys(chunk)


def _open_keys(user_id):
    from .models import PlaySession

    return PlaySession.objects.filter(user_id=user_id, ended_at__isnull=True).values_list("key", flat=True)


_open_session_keys = FixedQuery(_open_keys, user_id=int)  # compiled once per process (cpe.core.rows)


def flush_user(user_id: int) -> int:
    """Before reading a learner's progress (a new play start, the course page): their dirty
    sessions written now."""
    r, p = client(), prefix()
    keys = _open_session_keys(user_id=user_id)
    if not keys:
        return 0
    member = r.smismember(p + "dirty", keys)
    return flush_keys([k for k, m in zip(keys, member, strict=True) if m])
