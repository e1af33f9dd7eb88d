"""Appending to and verifying the audit log: an HMAC chain, anchored outside the database.

Each event's ``hash`` is HMAC-SHA256, under the audit key named by its ``key_id``, over the
event's canonical JSON, which includes the previous event's hash. Whoever can write the database
but does not hold the key cannot rewrite an event and recompute the chain.

Keys: from the environment (``CPE_AUDIT_KEYS="a2:<b64>,a1:<b64>"``, ``CPE_AUDIT_ACTIVE_KEY``),
or, in the local and test settings only, from a JSON file generated on first use next to the
field-key file (``settings.AUDIT_KEYS_FILE`` if set). New events use the active key; old events
verify under the key id they carry, so rotating means adding a key and making it active, and
keeping the old ones for as long as their events must verify.

Events written before the chain had a key (``key_id`` empty) keep their plain SHA-256 hashes
and verify as such. They may only form the start of the chain: the first keyed event chains onto
the last plain one, and a plain event after a keyed one is refused. ``AUDIT_PLAIN_MAX_SEQ``
(production: ``CPE_AUDIT_PLAIN_MAX_SEQ``, default 0) pins how long that start may be, so that a
keyed chain cannot be rewritten wholesale as a plain one.

The chain's head (seq and hash) is appended on a schedule to ``settings.AUDIT_HEADS_FILE``
(``audit_head_record``). ``audit_verify`` compares every recorded head with the database: an
event rewritten, or a tail truncated, after its head was recorded no longer matches.
"""

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timezone as dt_timezone
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from .models import AuditEvent, AuditHead

GENESIS = "0" * 64
KEY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
MIN_KEY_BYTES = 32

heads_log = logging.getLogger("cpe.audit.heads")


# --- keys --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditKeys:
    keys: dict  # key id -> bytes
    active: str


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64d(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured("an audit key is not valid base64") from exc


def _keys_file():
    explicit = getattr(settings, "AUDIT_KEYS_FILE", None)
    if explicit:
        return Path(explicit)
    field_file = getattr(settings, "FIELD_KEYS_FILE", None)
    if not field_file:
        return None
    field_file = Path(field_file)
    name = field_file.name.replace("field", "audit")
    return field_file.with_name(name if name != field_file.name else "audit-" + field_file.name)


def _keys_from_file(path: Path) -> AuditKeys:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process generated it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                json.dump({"active": "a1", "keys": {"a1": _b64e(secrets.token_bytes(32))}}, fh)
    data = json.loads(path.read_text())
    return AuditKeys({kid: _b64d(v) for kid, v in data["keys"].items()}, data["active"])


def load_audit_keys() -> AuditKeys:
    """The audit keys, checked; raises ImproperlyConfigured (the deploy check cpe.E005 reports it)."""
    raw = os.environ.get("CPE_AUDIT_KEYS", "").strip()
    if raw:
        keys = {}
        for part in raw.split(","):
            kid, _, b64 = part.strip().partition(":")
            keys[kid] = _b64d(b64)
        loaded = AuditKeys(keys, os.environ.get("CPE_AUDIT_ACTIVE_KEY", "").strip() or next(iter(keys)))
    else:
        path = _keys_file()
        if path is None:
            raise ImproperlyConfigured("CPE_AUDIT_KEYS must be set (the audit log's HMAC keys)")
        loaded = _keys_from_file(path)
    for kid, key in loaded.keys.items():
        if not KEY_ID_RE.match(kid):
            raise ImproperlyConfigured(f"audit key id {kid!r} must be 1-16 letters, digits, '-' or '_'")
        if len(key) < MIN_KEY_BYTES:
            raise ImproperlyConfigured(f"audit key {kid} is shorter than {MIN_KEY_BYTES} bytes")
    if loaded.active not in loaded.keys:
        raise ImproperlyConfigured(f"the active audit key {loaded.active!r} is not among CPE_AUDIT_KEYS")
    return loaded


@lru_cache(maxsize=1)
def audit_keys() -> AuditKeys:
    return load_audit_keys()


# --- hashing -----------------------------------------------------------------------------------
class UnknownAuditKey(Exception):
    """An event names a key id that is not configured."""


def _canonical(
    seq, at, actor_id, actor_label, event_type, subject_type, subject_id, data, ip, prev_hash, key_id=""
) -> bytes:
    payload = {
        "seq": seq,
        "at": at.astimezone(dt_timezone.utc).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "event_type": event_type,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "data": data,
        "ip": ip,
        "prev_hash": prev_hash,
    }
    if key_id:  # plain (pre-key) events keep the exact bytes they were hashed over
        payload["key_id"] = key_id
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_hash(e: AuditEvent, keys: AuditKeys | None = None) -> str:
    """The event's chain hash: HMAC-SHA256 under its key id, or plain SHA-256 for a pre-key event."""
    message = _canonical(
        e.seq,
        e.at,
        e.actor_id,
        e.actor_label,
        e.event_type,
        e.subject_type,
        e.subject_id,
        e.data,
        e.ip,
        e.prev_hash,
        e.key_id,
    )
    if not e.key_id:
        return hashlib.sha256(message).hexdigest()
    key = (keys or audit_keys()).keys.get(e.key_id)
    if key is None:
        raise UnknownAuditKey(e.key_id)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def audit_record(event_type: str, *, actor=None, subject=None, data=None, ip=None, at=None) -> AuditEvent:
    """Append one event. Runs inside the caller's transaction, so the event exists if and
    only if the change it describes was committed. Inside `audit_deferred()` the event is
    appended when that block ends (its `pk` is set then)."""
    # No savepoint of its own: an event that fails to append fails the caller's transaction
    # (the change it describes must not commit without it). Outside a transaction, this is one.
    keys = audit_keys()  # before the lock: a missing key fails without holding anyone up
    actor_label = ""
    if actor is not None:
        actor_label = getattr(actor, "audit_label", None) or str(actor.pk)
    event = AuditEvent(
        at=at or timezone.now(),
        actor_id=getattr(actor, "pk", None),
        actor_label=actor_label,
        event_type=event_type,
        subject_type=subject._meta.label_lower if subject is not None else "",
        subject_id=str(subject.pk) if subject is not None else "",
        data=data or {},
        ip=ip,
    )
    queue = getattr(_deferred, "events", None)
    if queue is not None:
        queue.append(event)
        return event
    _append_chained([event], keys)
    return event


_deferred = threading.local()


@contextmanager
def audit_deferred():
    """Inside the caller's transaction: the events recorded within the block are appended
    together when it ends, under one lock of the chain's head and in one statement, in the order
    they were recorded. Without it each event locks the head at its own append, and the lock is
    held until the transaction ends: every audited change on the platform then waits for
    whatever the transaction still does after its first event (a passed exam writes its credit
    record, certificate and AIS report after the exam's event). If the block raises, nothing is
    appended (the transaction is rolled back anyway). Nested blocks append with the outermost."""
    if getattr(_deferred, "events", None) is not None:
        yield
        return
    _deferred.events = queue = []
    try:
        yield
    finally:
        _deferred.events = None
    if queue:
        _append_chained(queue, audit_keys())


def _append_chained(events: list, keys) -> None:
    """Chain `events` after the head (locked until the caller's transaction ends) and append them."""
    with transaction.atomic(savepoint=False):
        head = _lock_head()
        for event in events:
            event.seq, event.prev_hash, event.key_id = head.seq + 1, head.hash, keys.active
            event.hash = event_hash(event, keys)
            head.seq, head.hash = event.seq, event.hash
        _append(events, head)


def _lock_head() -> AuditHead:
    """The chain's head, locked until the caller's transaction ends (created by the first
    event). On PostgreSQL read with plain SQL: every audited change waits for this row."""
    from django.db import connection

    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT {qn('seq')}, {qn('hash')} FROM {qn(AuditHead._meta.db_table)} "
                f"WHERE {qn('id')} = %s FOR UPDATE",
                [1],
            )
            row = cur.fetchone()
        if row is not None:
            return AuditHead.from_db(connection.alias, ["id", "seq", "hash"], (1, *row))
    head = AuditHead.objects.select_for_update().filter(id=1).first()
    if head is None:  # the very first event
        AuditHead.objects.get_or_create(id=1)
        head = AuditHead.objects.select_for_update().get(id=1)
    return head


def _append(events: list, head: AuditHead) -> None:
    """Insert the events and move the head to the last. On PostgreSQL one statement (the head's
    UPDATE in a WITH before the INSERT: the lock holder's round trips are everyone's wait);
    elsewhere a save each."""
    from django.db import connection

    if connection.vendor != "postgresql":
        for event in events:
            event.save()
        head.save(update_fields=["seq", "hash"])
        return
    qn = connection.ops.quote_name
    fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    row = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"WITH h AS (UPDATE {qn(AuditHead._meta.db_table)} SET {qn('seq')} = %s, {qn('hash')} = %s "
        f"WHERE {qn('id')} = %s) "
        f"INSERT INTO {qn(AuditEvent._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * len(events))} "
        f"RETURNING {qn(AuditEvent._meta.pk.column)}, {qn('seq')}"
    )
    params = [head.seq, head.hash, head.pk]
    for event in events:
        params += [f.get_db_prep_save(f.pre_save(event, True), connection) for f in fields]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        pks = dict((seq, pk) for pk, seq in cur.fetchall())
    for event in events:
        event.pk = pks[event.seq]
        event._state.adding, event._state.db = False, connection.alias


# --- verifying ---------------------------------------------------------------------------------
@dataclass
class ChainReport:
    checked: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str = ""
    plain: int = 0  # events from before the chain had a key
    heads_checked: int = 0  # recorded heads found and matched
    heads_source: str = ""  # where they were read from ("" when none)


def audit_verify(batch: int = 2000, heads_file=None) -> ChainReport:
    """Walk the chain in order; report the first event whose link, key or hash is wrong, or that
    differs from a head recorded outside the database. ``heads_file``: a copy of the recorded
    heads (default: settings.AUDIT_HEADS_FILE, when it exists)."""
    keys = audit_keys()
    path = Path(heads_file) if heads_file else _heads_path()
    source = str(path) if path is not None and path.exists() else ""
    try:
        recorded = read_recorded_heads(path) if source else {}
    except RecordedHeadsError as exc:
        return ChainReport(0, False, None, str(exc), heads_source=source)
    plain_max = getattr(settings, "AUDIT_PLAIN_MAX_SEQ", None)
    # The head as committed before the walk (read after the recorded heads and before the walk's
    # snapshot): events appended while the walk runs neither fail it nor need to be seen.
    head_start = AuditHead.objects.filter(id=1).first()
    start_seq, start_hash = (head_start.seq, head_start.hash) if head_start else (0, GENESIS)

    def bad(seq, problem):
        return ChainReport(checked, False, seq, problem, plain, heads_checked, source)

    prev, expected_seq, checked, plain, heads_checked, keyed_seen = GENESIS, 1, 0, 0, 0, False
    for e in AuditEvent.objects.order_by("seq").iterator(chunk_size=batch):
        if e.seq != expected_seq:
            return bad(expected_seq, "缺少事件（序号不连续）")
        if e.prev_hash != prev:
            return bad(e.seq, "前序哈希不匹配")
        if e.key_id:
            keyed_seen = True
            if e.key_id not in keys.keys:
                return bad(e.seq, f"密钥编号 {e.key_id} 未配置（CPE_AUDIT_KEYS 中缺少旧密钥，或记录被伪造）")
        else:
            if keyed_seen:
                return bad(e.seq, "无密钥的事件出现在有密钥的事件之后（链被改写）")
            if plain_max is not None and e.seq > plain_max:
                return bad(e.seq, f"无密钥的事件超出启用密钥前的范围（AUDIT_PLAIN_MAX_SEQ = {plain_max}）")
            plain += 1
        if event_hash(e, keys) != e.hash:
            return bad(e.seq, "内容哈希不匹配（记录被修改）")
        if e.seq == start_seq and e.hash != start_hash:
            return bad(e.seq, "链尾与记录不符（末尾事件被替换）")
        if e.seq in recorded:
            if recorded[e.seq] != e.hash:
                return bad(e.seq, "与库外记录的链头不符（历史被改写）")
            heads_checked += 1
        prev, expected_seq, checked = e.hash, expected_seq + 1, checked + 1
    if checked < start_seq:
        return bad(checked + 1, "链尾与记录不符（末尾事件被删除）")
    head_end = AuditHead.objects.filter(id=1).first()
    if checked and (head_end is None or head_end.seq < checked):
        return bad((head_end.seq if head_end else 0) + 1, "链尾落后于已有事件（链尾被回拨）")
    if recorded and max(recorded) > checked:
        return bad(checked + 1, f"库外记录的链头 #{max(recorded)} 已不在数据库中（末尾被截断）")
    return ChainReport(checked, True, plain=plain, heads_checked=heads_checked, heads_source=source)


# --- the heads recorded outside the database ---------------------------------------------------
class RecordedHeadsError(Exception):
    """The recorded heads file cannot be read as a list of heads."""


def _heads_path():
    path = getattr(settings, "AUDIT_HEADS_FILE", None)
    return Path(path) if path else None


def read_recorded_heads(path) -> dict:
    """{seq: hash} from a heads file (one JSON object a line). The same seq with two hashes means
    the database was rewritten between the two records."""
    heads = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                seq, digest = int(item["seq"]), str(item["hash"])
            except (ValueError, KeyError, TypeError) as exc:
                raise RecordedHeadsError(f"链头记录文件第 {n} 行无法解析") from exc
            if heads.get(seq, digest) != digest:
                raise RecordedHeadsError(
                    f"链头记录文件中序号 {seq} 有两个不同的哈希（第 {n} 行：数据库在两次记录之间被改写）"
                )
            heads[seq] = digest
    return heads


def _last_line(path: Path) -> str:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 4096))
        lines = [ln for ln in fh.read().splitlines() if ln.strip()]
    return lines[-1].decode("utf-8", "replace") if lines else ""


def audit_head_record(path=None, at=None) -> dict | None:
    """Append the chain's committed head to the heads file (and log it on "cpe.audit.heads", for
    operators who ship logs off the host). Nothing when the chain is empty or the head is the one
    recorded last. Returns the record written."""
    path = Path(path) if path else _heads_path()
    if path is None:
        return None
    head = AuditHead.objects.filter(id=1).first()
    if head is None or head.seq == 0:
        return None
    if path.exists():
        try:
            last = json.loads(_last_line(path) or "{}")
        except ValueError:
            last = {}
        if last.get("seq") == head.seq and last.get("hash") == head.hash:
            return None
    key_id = AuditEvent.objects.filter(seq=head.seq).values_list("key_id", flat=True).first() or ""
    record = {
        "at": (at or timezone.now()).astimezone(dt_timezone.utc).isoformat(timespec="seconds"),
        "seq": head.seq,
        "hash": head.hash,
        "key_id": key_id,
    }
    line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    heads_log.info(line.strip())
    return record
