"""Appending to and verifying the hash-chained audit log."""
import hashlib
import json
from datetime import timezone as dt_timezone
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .models import AuditEvent, AuditHead

GENESIS = "0" * 64


def _canonical(seq, at, actor_id, actor_label, event_type, subject_type, subject_id, data, ip, prev_hash) -> bytes:
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
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_hash(e: AuditEvent) -> str:
    return hashlib.sha256(
        _canonical(e.seq, e.at, e.actor_id, e.actor_label, e.event_type, e.subject_type,
                   e.subject_id, e.data, e.ip, e.prev_hash)
    ).hexdigest()


def audit_record(event_type: str, *, actor=None, subject=None, data=None, ip=None, at=None) -> AuditEvent:
    """Append one event. Runs inside the caller's transaction, so the event exists if and
    only if the change it describes was committed."""
    # No savepoint of its own: an event that fails to append fails the caller's transaction
    # (the change it describes must not commit without it). Outside a transaction, this is one.
    with transaction.atomic(savepoint=False):
        head = _lock_head()
        actor_label = ""
        if actor is not None:
            actor_label = getattr(actor, "audit_label", None) or str(actor.pk)
        event = AuditEvent(
            seq=head.seq + 1,
            at=at or timezone.now(),
            actor_id=getattr(actor, "pk", None),
            actor_label=actor_label,
            event_type=event_type,
            subject_type=subject._meta.label_lower if subject is not None else "",
            subject_id=str(subject.pk) if subject is not None else "",
            data=data or {},
            ip=ip,
            prev_hash=head.hash,
        )
        event.hash = event_hash(event)
        head.seq, head.hash = event.seq, event.hash
        _append(event, head)
    return event


def _lock_head() -> AuditHead:
    """The chain's head, locked until the caller's transaction ends (created by the first
    event). On PostgreSQL read with plain SQL: every audited change waits for this row."""
    from django.db import connection

    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        with connection.cursor() as cur:
            cur.execute(f"SELECT {qn('seq')}, {qn('hash')} FROM {qn(AuditHead._meta.db_table)} "
                        f"WHERE {qn('id')} = %s FOR UPDATE", [1])
            row = cur.fetchone()
        if row is not None:
            return AuditHead.from_db(connection.alias, ["id", "seq", "hash"], (1, *row))
    head = AuditHead.objects.select_for_update().filter(id=1).first()
    if head is None:                        # the very first event
        AuditHead.objects.get_or_create(id=1)
        head = AuditHead.objects.select_for_update().get(id=1)
    return head


def _append(event: AuditEvent, head: AuditHead) -> None:
    """Insert the event and move the head to it. On PostgreSQL one statement (the head's
    UPDATE in a WITH before the INSERT: the lock holder's round trips are everyone's wait);
    elsewhere two saves."""
    from django.db import connection

    if connection.vendor != "postgresql":
        event.save()
        head.save(update_fields=["seq", "hash"])
        return
    qn = connection.ops.quote_name
    fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    sql = (f"WITH h AS (UPDATE {qn(AuditHead._meta.db_table)} SET {qn('seq')} = %s, {qn('hash')} = %s "
           f"WHERE {qn('id')} = %s) "
           f"INSERT INTO {qn(AuditEvent._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {qn(AuditEvent._meta.pk.column)}")
    params = [head.seq, head.hash, head.pk,
              *(f.get_db_prep_save(f.pre_save(event, True), connection) for f in fields)]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        event.pk = cur.fetchone()[0]
    event._state.adding, event._state.db = False, connection.alias


@dataclass
class ChainReport:
    checked: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str = ""


def audit_verify(batch: int = 2000) -> ChainReport:
    """Walk the chain in order; report the first event whose link or hash is wrong."""
    prev, expected_seq, checked = GENESIS, 1, 0
    for e in AuditEvent.objects.order_by("seq").iterator(chunk_size=batch):
        if e.seq != expected_seq:
            return ChainReport(checked, False, expected_seq, "缺少事件（序号不连续）")
        if e.prev_hash != prev:
            return ChainReport(checked, False, e.seq, "前序哈希不匹配")
        if event_hash(e) != e.hash:
            return ChainReport(checked, False, e.seq, "内容哈希不匹配（记录被修改）")
        prev, expected_seq, checked = e.hash, expected_seq + 1, checked + 1
    head = AuditHead.objects.filter(id=1).first()
    if head and (head.seq != checked or head.hash != prev):
        return ChainReport(checked, False, checked + 1, "链尾与记录不符（末尾事件被删除）")
    return ChainReport(checked, True)
