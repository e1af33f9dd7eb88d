"""The simulator's state: one SQLite file (or ":memory:"), one connection guarded by a lock.

Tables
    persons    who the AIS knows (seeded): id_number, name, person_id, region_code, status
    nonces     every nonce accepted, with its timestamp (pruned once its timestamp is too old
               to be accepted again, so a replay is refused either way)
    credits    recorded credits, keyed by receipt_no, unique idempotency_key, with the
               canonical body hash that decides 200 (same body) or 409 (changed body)
    reversals  one per reversed credit, with its own idempotency key
    requests   every /api/ request the simulator saw (tests count them), with the answer status
"""

import hashlib
import json
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

SCHEMA = """
CREATE TABLE IF NOT EXISTS persons (
    id_number   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    person_id   TEXT NOT NULL UNIQUE,
    region_code TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active'
);
CREATE TABLE IF NOT EXISTS nonces (
    nonce     TEXT PRIMARY KEY,
    ts        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS nonces_ts ON nonces (ts);
CREATE TABLE IF NOT EXISTS credits (
    receipt_no      TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    body_hash       TEXT NOT NULL,
    person_id       TEXT NOT NULL,
    year            INTEGER NOT NULL,
    body            TEXT NOT NULL,
    recorded_at     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS credits_person_year ON credits (person_id, year);
CREATE TABLE IF NOT EXISTS reversals (
    idempotency_key TEXT PRIMARY KEY,
    receipt_no      TEXT NOT NULL UNIQUE,
    reason          TEXT NOT NULL,
    reversal_no     TEXT NOT NULL,
    reversed_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    method    TEXT NOT NULL,
    path      TEXT NOT NULL,
    status    INTEGER,
    fault     TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


# The AIS is the region's system and numbers its receipts by the Beijing day (UTC+8 all year,
# no daylight saving), the day the platform shows: a credit recorded at 00:30 on 3 December
# Beijing time carries 20261203, not the UTC day before.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def beijing_day(at: datetime | None = None) -> str:
    """YYYYMMDD of `at` (default now) in Beijing time; `at` must be aware."""
    return (at or datetime.now(timezone.utc)).astimezone(BEIJING).strftime("%Y%m%d")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def canonical_hash(body: dict) -> str:
    """Key order and whitespace do not make a body "different"; values do."""
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def person_id_for(id_number: str) -> str:
    """Stable across re-seeding, so a demo database and a fresh one agree."""
    return "NMP" + hashlib.sha256(id_number.encode()).hexdigest()[:12].upper()


class Conflict(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


class Store:
    def __init__(self, path: str = ":memory:"):
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self):
        with self._lock:
            self._db.close()

    def _tx(self):
        return _Tx(self)

    def _next(self, name: str) -> int:
        self._db.execute(
            "INSERT INTO counters(name, value) VALUES (?, 1) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1",
            (name,),
        )
        return self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]

    # -- persons ----------------------------------------------------------------------------
    def person_upsert(
        self, *, id_number: str, name: str, person_id: str = "", region_code: str = "", status: str = "active"
    ) -> dict:
        id_number = id_number.strip().upper()
        with self._tx():
            row = self._db.execute(
                "SELECT person_id FROM persons WHERE id_number = ?", (id_number,)
            ).fetchone()
            pid = person_id or (row["person_id"] if row else person_id_for(id_number))
            region = region_code or (id_number[:4] + "00")
            self._db.execute(
                "INSERT INTO persons(id_number, name, person_id, region_code, status) VALUES (?,?,?,?,?) "
                "ON CONFLICT(id_number) DO UPDATE SET name=excluded.name, person_id=excluded.person_id, "
                "region_code=excluded.region_code, status=excluded.status",
                (id_number, name.strip(), pid, region, status),
            )
        return {
            "id_number": id_number,
            "name": name.strip(),
            "person_id": pid,
            "region_code": region,
            "status": status,
        }

    def person_delete(self, id_number: str) -> bool:
        with self._tx():
            return (
                self._db.execute(
                    "DELETE FROM persons WHERE id_number = ?", (id_number.strip().upper(),)
                ).rowcount
                > 0
            )

    def person_lookup(self, id_number: str, name: str) -> dict | None:
        """Found only when both the ID number and the name match (a name mismatch reveals
        nothing about whether the ID number is known)."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM persons WHERE id_number = ? AND name = ?",
                (id_number.strip().upper(), name.strip()),
            ).fetchone()
        return dict(row) if row else None

    def person_by_id(self, person_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM persons WHERE person_id = ?", (person_id,)).fetchone()
        return dict(row) if row else None

    def persons(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._db.execute("SELECT * FROM persons ORDER BY id_number")]

    # -- nonces -----------------------------------------------------------------------------
    def nonce_use(self, nonce: str, ts: int, *, window: int, now: int | None = None) -> bool:
        """True if the nonce is new (and now used up); False if it was seen before."""
        now = int(time.time()) if now is None else now
        with self._tx():
            self._db.execute("DELETE FROM nonces WHERE ts < ?", (now - 2 * window,))
            try:
                self._db.execute("INSERT INTO nonces(nonce, ts) VALUES (?, ?)", (nonce, ts))
            except sqlite3.IntegrityError:
                return False
        return True

    # -- credits ----------------------------------------------------------------------------
    def credit_record(self, body: dict, *, at: datetime | None = None) -> tuple[bool, str]:
        """(created, receipt_no). Same key + same body: (False, the first receipt).
        Same key + different body: Conflict. The receipt carries the Beijing day of `at`
        (default now)."""
        digest = canonical_hash(body)
        with self._tx():
            row = self._db.execute(
                "SELECT receipt_no, body_hash FROM credits WHERE idempotency_key = ?",
                (body["idempotency_key"],),
            ).fetchone()
            if row is not None:
                if row["body_hash"] != digest:
                    raise Conflict("idempotency_conflict", "idempotency_key was used with a different body")
                return False, row["receipt_no"]
            seq = self._next("receipt")
            receipt = f"AIS{beijing_day(at)}{seq:08d}"
            self._db.execute(
                "INSERT INTO credits(receipt_no, idempotency_key, body_hash, "
                "person_id, year, body, recorded_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    receipt,
                    body["idempotency_key"],
                    digest,
                    body["person_id"],
                    int(body["year"]),
                    json.dumps(body, ensure_ascii=False),
                    now_iso(),
                ),
            )
        return True, receipt

    def credit_known(self, idempotency_key: str) -> bool:
        with self._lock:
            return (
                self._db.execute(
                    "SELECT 1 FROM credits WHERE idempotency_key = ?", (idempotency_key,)
                ).fetchone()
                is not None
            )

    def credit_reverse(
        self, receipt_no: str, *, idempotency_key: str, reason: str, at: datetime | None = None
    ) -> dict | None:
        """None: unknown receipt. Same key again: the same answer. A different key for an
        already reversed receipt, or a key already used for another receipt: Conflict."""
        with self._tx():
            credit = self._db.execute(
                "SELECT receipt_no FROM credits WHERE receipt_no = ?", (receipt_no,)
            ).fetchone()
            if credit is None:
                return None
            by_key = self._db.execute(
                "SELECT * FROM reversals WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
            if by_key is not None:
                if by_key["receipt_no"] != receipt_no or by_key["reason"] != reason:
                    raise Conflict(
                        "idempotency_conflict", "idempotency_key was used with a different reversal"
                    )
                return self._reversal_answer(by_key)
            if self._db.execute("SELECT 1 FROM reversals WHERE receipt_no = ?", (receipt_no,)).fetchone():
                raise Conflict("already_reversed", "the credit was reversed under another idempotency_key")
            seq = self._next("reversal")
            reversal_no = f"REV{beijing_day(at)}{seq:08d}"
            self._db.execute(
                "INSERT INTO reversals(idempotency_key, receipt_no, reason, reversal_no, reversed_at) "
                "VALUES (?,?,?,?,?)",
                (idempotency_key, receipt_no, reason, reversal_no, now_iso()),
            )
            row = self._db.execute(
                "SELECT * FROM reversals WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
        return self._reversal_answer(row)

    @staticmethod
    def _reversal_answer(row) -> dict:
        return {
            "receipt_no": row["receipt_no"],
            "reversal_no": row["reversal_no"],
            "reversed_at": row["reversed_at"],
            "status": "reversed",
        }

    def credits(self, *, person_id: str | None = None, year: int | None = None) -> list[dict]:
        sql = (
            "SELECT c.*, r.reversal_no, r.reversed_at, r.reason AS reversal_reason "
            "FROM credits c LEFT JOIN reversals r ON r.receipt_no = c.receipt_no WHERE 1=1"
        )
        args = []
        if person_id is not None:
            sql += " AND c.person_id = ?"
            args.append(person_id)
        if year is not None:
            sql += " AND c.year = ?"
            args.append(year)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY c.receipt_no", args).fetchall()
        items = []
        for r in rows:
            body = json.loads(r["body"])
            items.append(
                {
                    "receipt_no": r["receipt_no"],
                    "idempotency_key": r["idempotency_key"],
                    "person_id": r["person_id"],
                    "year": r["year"],
                    "course_code": body["course_code"],
                    "course_title": body["course_title"],
                    "category": body["category"],
                    "hours": body["hours"],
                    "credits": body["credits"],
                    "passed_at": body["passed_at"],
                    "recorded_at": r["recorded_at"],
                    "status": "reversed" if r["reversal_no"] else "recorded",
                    "reversal_no": r["reversal_no"],
                    "reversed_at": r["reversed_at"],
                }
            )
        return items

    # -- the request log ----------------------------------------------------------------------
    def request_begin(self, method: str, path: str, *, fault: str = "", idempotency_key: str = "") -> int:
        with self._tx():
            return self._db.execute(
                "INSERT INTO requests(at, method, path, fault, idempotency_key) VALUES (?,?,?,?,?)",
                (now_iso(), method, path, fault, idempotency_key),
            ).lastrowid

    def request_end(self, request_id: int, status: int | None, *, idempotency_key: str = ""):
        with self._tx():
            self._db.execute(
                "UPDATE requests SET status = ?, idempotency_key = COALESCE(NULLIF(?, ''), "
                "idempotency_key) WHERE id = ?",
                (status, idempotency_key, request_id),
            )

    def requests(self, since: int = 0) -> list[dict]:
        with self._lock:
            return [
                dict(r) for r in self._db.execute("SELECT * FROM requests WHERE id > ? ORDER BY id", (since,))
            ]

    def reset(self, *, keep_persons: bool = False):
        with self._tx():
            for table in ("nonces", "credits", "reversals", "requests", "counters"):
                self._db.execute(f"DELETE FROM {table}")
            if not keep_persons:
                self._db.execute("DELETE FROM persons")

    def clear_requests(self):
        with self._tx():
            self._db.execute("DELETE FROM requests")


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT under the store lock (the file may also be read by another
    process, e.g. a test inspecting the store)."""

    def __init__(self, store: Store):
        self.store = store

    def __enter__(self):
        self.store._lock.acquire()
        self.store._db.execute("BEGIN IMMEDIATE")
        return self.store._db

    def __exit__(self, exc_type, exc, tb):
        try:
            self.store._db.execute("COMMIT" if exc_type is None or exc_type is Conflict else "ROLLBACK")
        finally:
            self.store._lock.release()
        return False
