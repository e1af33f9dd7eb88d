"""The HTTP side of the simulator: docs/ais-interface.md under /api/v1/, admin endpoints under /_sim/.

Authentication (every /api/ request), checked in this order, each failure a 401 with a code:
    X-AIS-Provider   must equal the configured provider code              unknown_provider
    X-AIS-Timestamp  Unix seconds, at most `window` (300) s off our clock   stale_timestamp
    X-AIS-Nonce      16-128 visible ASCII characters                       bad_nonce
    X-AIS-Signature  base64(HMAC-SHA256(secret, METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex(SHA-256(body))))
                                                                          bad_signature
    the nonce was never accepted before                                    nonce_reused
PATH is the request target exactly as sent: the path and, when there is one, "?" and the
query string (so the query of GET /api/v1/credits is signed too). The nonce is used up only
by a request whose signature verifies (a stranger cannot burn nonces).
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from .faults import FaultBook, parse_fault
from .store import Conflict, Store

DEMO_PROVIDER_CODE = "CPE-DEMO"
DEMO_SECRET = "ais-sim-demo-secret-not-for-production"
MAX_BODY = 1 << 20
ID_NUMBER = re.compile(r"^\d{17}[\dX]$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")
NONCE = re.compile(r"^[\x21-\x7e]{16,128}$")
RECEIPT_PATH = re.compile(r"^/api/v1/credits/([A-Za-z0-9\-]{1,64})/reversal$")
CREDIT_FIELDS = {
    "idempotency_key",
    "person_id",
    "id_number",
    "name",
    "year",
    "course_code",
    "course_title",
    "category",
    "hours",
    "credits",
    "passed_at",
}
CATEGORIES = {"professional", "public"}


@dataclass
class SimConfig:
    provider_code: str = DEMO_PROVIDER_CODE
    secret: str = DEMO_SECRET
    window: int = 300  # seconds a timestamp may be off
    admin: bool = True  # /_sim/ endpoints (loopback clients only)
    verbose: bool = False
    clock: callable = field(default=time.time)


def signature(secret: str, method: str, target: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = "\n".join([method.upper(), target, timestamp, nonce, hashlib.sha256(body).hexdigest()])
    digest = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _bad(code: str, message: str):
    return ApiError(400, code, message)


# --- validation ---------------------------------------------------------------------------------
def _json_object(raw: bytes) -> dict:
    try:
        data = json.loads(raw.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad("invalid_json", f"body is not UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _bad("invalid_json", "body must be a JSON object")
    return data


def _text(data: dict, name: str, max_len: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _bad("invalid_field", f"{name} is required (a non-empty string)")
    if len(value) > max_len:
        raise _bad("invalid_field", f"{name} is longer than {max_len}")
    return value


def _id_number(data: dict) -> str:
    value = _text(data, "id_number", 18)
    if not ID_NUMBER.match(value):
        raise _bad("invalid_field", "id_number must be 18 characters: 17 digits and a digit or X")
    return value


def _number(data: dict, name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1000:
        raise _bad("invalid_field", f"{name} must be a number in (0, 1000]")
    return value


def validate_credit(data: dict) -> dict:
    unknown = set(data) - CREDIT_FIELDS
    if unknown:
        raise _bad("unknown_field", f"unknown fields: {', '.join(sorted(unknown))}")
    key = _text(data, "idempotency_key", 128)
    if not IDEMPOTENCY_KEY.match(key):
        raise _bad("invalid_field", "idempotency_key must be 8-128 characters of A-Z a-z 0-9 . _ : -")
    _text(data, "person_id", 64)
    _id_number(data)
    _text(data, "name", 50)
    year = data.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise _bad("invalid_field", "year must be an integer between 2000 and 2100")
    _text(data, "course_code", 64)
    _text(data, "course_title", 200)
    if data.get("category") not in CATEGORIES:
        raise _bad("invalid_field", "category must be professional or public")
    _number(data, "hours")
    _number(data, "credits")
    passed_at = _text(data, "passed_at", 40)
    try:
        parsed = datetime.fromisoformat(passed_at)
    except ValueError as exc:
        raise _bad("invalid_field", "passed_at must be an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        raise _bad("invalid_field", "passed_at must carry a UTC offset")
    return data


# --- the handler --------------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AIS-Simulator/1.0"
    sys_version = ""

    # set on the server object by make_server
    @property
    def sim(self) -> "SimServer":
        return self.server

    def log_message(self, fmt, *args):
        if self.sim.config.verbose:
            sys.stderr.write("ais_sim %s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    # -- plumbing -------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ApiError(413, "too_large", "body too large")
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: dict | None, headers: dict | None = None):
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, str(value))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            self.close_connection = True

    def _drop(self):
        """Close the connection without a byte of answer."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass

    def _dispatch(self):
        target = self.path
        parts = urlsplit(target)
        path = unquote(parts.path)
        try:
            raw = self._read_body()
        except (ApiError, ValueError) as exc:
            self.close_connection = True
            return self._send(413, {"code": "too_large", "message": str(exc)})
        if path.startswith("/_sim/"):
            return self._admin(path, parts.query, raw)
        if path.startswith("/api/"):
            return self._api(target, path, parts.query, raw)
        return self._send(404, {"code": "not_found", "message": "no such endpoint"})

    # -- the contract ---------------------------------------------------------------------------
    def _api(self, target: str, path: str, query: str, raw: bytes):
        sim = self.sim
        fault = sim.faults.take(self.command, path)
        req_id = sim.store.request_begin(self.command, target, fault=fault.mode if fault else "")
        if fault is not None and fault.mode in {"429", "500", "502", "503"}:
            status = int(fault.mode)
            headers = {"Retry-After": fault.retry_after} if status == 429 else {}
            code = "rate_limited" if status == 429 else "unavailable"
            sim.store.request_end(req_id, status)
            return self._send(status, {"code": code, "message": f"simulated {status}"}, headers)
        if fault is not None and not fault.after_processing:
            if fault.mode == "drop":
                sim.store.request_end(req_id, None)
                return self._drop()
            time.sleep(fault.delay)  # slow, before doing the work
        try:
            self._authenticate(target, raw)
            status, payload = self._route(path, query, raw)
            headers = {}
        except ApiError as exc:
            status, payload, headers = exc.status, {"code": exc.code, "message": exc.message}, exc.headers
        key = payload.get("_key", "") if isinstance(payload, dict) else ""
        if isinstance(payload, dict):
            payload.pop("_key", None)
        if fault is not None and fault.after_processing and fault.mode == "drop":
            sim.store.request_end(req_id, None, idempotency_key=key)
            return self._drop()
        sim.store.request_end(req_id, status, idempotency_key=key)
        if fault is not None and fault.after_processing:
            time.sleep(fault.delay)  # slow, after the work is committed
        self._send(status, payload, headers)

    def _authenticate(self, target: str, raw: bytes):
        cfg = self.sim.config
        provider = self.headers.get("X-AIS-Provider", "")
        if not hmac.compare_digest(provider.encode(), cfg.provider_code.encode()):
            raise ApiError(401, "unknown_provider", "X-AIS-Provider is missing or unknown")
        ts = self.headers.get("X-AIS-Timestamp", "")
        if not ts.isdigit() or abs(int(cfg.clock()) - int(ts)) > cfg.window:
            raise ApiError(
                401, "stale_timestamp", f"X-AIS-Timestamp is missing or more than {cfg.window} s off"
            )
        nonce = self.headers.get("X-AIS-Nonce", "")
        if not NONCE.match(nonce):
            raise ApiError(401, "bad_nonce", "X-AIS-Nonce must be 16-128 visible ASCII characters")
        expected = signature(cfg.secret, self.command, target, ts, nonce, raw)
        if not hmac.compare_digest(expected.encode(), self.headers.get("X-AIS-Signature", "").encode()):
            raise ApiError(401, "bad_signature", "X-AIS-Signature does not verify")
        if not self.sim.store.nonce_use(nonce, int(ts), window=cfg.window, now=int(cfg.clock())):
            raise ApiError(401, "nonce_reused", "X-AIS-Nonce was used before")

    def _route(self, path: str, query: str, raw: bytes) -> tuple[int, dict]:
        store, method = self.sim.store, self.command
        if path == "/api/v1/persons/lookup":
            if method != "POST":
                raise ApiError(405, "method_not_allowed", "use POST")
            data = _json_object(raw)
            id_number, name = _id_number(data), _text(data, "name", 50)
            person = store.person_lookup(id_number, name)
            if person is None:
                return 200, {"found": False}
            return 200, {
                "found": True,
                "person_id": person["person_id"],
                "region_code": person["region_code"],
                "status": person["status"],
            }
        if path == "/api/v1/credits":
            if method == "GET":
                return self._credits_list(query)
            if method != "POST":
                raise ApiError(405, "method_not_allowed", "use GET or POST")
            data = validate_credit(_json_object(raw))
            key = data["idempotency_key"]
            # A known key is answered first (200 same receipt / 409 changed body), even if the
            # person was removed since: a resend must always get its receipt back.
            if not store.credit_known(key):
                person = store.person_by_id(data["person_id"])
                if person is None:
                    raise ApiError(404, "unknown_person", "person_id is not known to the AIS")
                if person["id_number"] != data["id_number"] or person["name"] != data["name"]:
                    raise _bad("person_mismatch", "id_number or name does not match person_id")
            try:
                created, receipt = store.credit_record(data)
            except Conflict as exc:
                raise ApiError(409, exc.code, exc.message) from exc
            return (201 if created else 200), {"receipt_no": receipt, "_key": key}
        match = RECEIPT_PATH.match(path)
        if match:
            if method != "POST":
                raise ApiError(405, "method_not_allowed", "use POST")
            data = _json_object(raw)
            key = _text(data, "idempotency_key", 128)
            if not IDEMPOTENCY_KEY.match(key):
                raise _bad("invalid_field", "idempotency_key must be 8-128 characters of A-Z a-z 0-9 . _ : -")
            reason = _text(data, "reason", 200)
            unknown = set(data) - {"idempotency_key", "reason"}
            if unknown:
                raise _bad("unknown_field", f"unknown fields: {', '.join(sorted(unknown))}")
            try:
                answer = store.credit_reverse(match.group(1), idempotency_key=key, reason=reason)
            except Conflict as exc:
                raise ApiError(409, exc.code, exc.message) from exc
            if answer is None:
                raise ApiError(404, "unknown_receipt", "receipt_no is not known to the AIS")
            return 200, {**answer, "_key": key}
        raise ApiError(404, "not_found", "no such endpoint")

    def _credits_list(self, query: str) -> tuple[int, dict]:
        params = parse_qs(query)
        person_id = (params.get("person_id") or [""])[0]
        year_text = (params.get("year") or [""])[0]
        if not person_id:
            raise _bad("invalid_field", "person_id is required")
        if not year_text.isdigit() or not 2000 <= int(year_text) <= 2100:
            raise _bad("invalid_field", "year must be an integer between 2000 and 2100")
        if self.sim.store.person_by_id(person_id) is None:
            raise ApiError(404, "unknown_person", "person_id is not known to the AIS")
        return 200, {"items": self.sim.store.credits(person_id=person_id, year=int(year_text))}

    # -- admin ----------------------------------------------------------------------------------
    def _admin(self, path: str, query: str, raw: bytes):
        sim = self.sim
        if not sim.config.admin:
            return self._send(404, {"code": "not_found", "message": "admin endpoints are disabled"})
        try:
            loopback = ipaddress.ip_address(self.client_address[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return self._send(403, {"code": "forbidden", "message": "admin endpoints answer loopback only"})
        method = self.command
        try:
            data = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            return self._send(400, {"code": "invalid_json", "message": "body is not JSON"})
        params = parse_qs(query)
        try:
            if path == "/_sim/health":
                return self._send(
                    200, {"ok": True, "provider_code": sim.config.provider_code, "db": sim.store.path}
                )
            if path == "/_sim/persons" and method == "GET":
                return self._send(200, {"persons": sim.store.persons()})
            if path == "/_sim/persons" and method == "POST":
                rows = data.get("persons", data) if isinstance(data, dict) else data
                rows = [rows] if isinstance(rows, dict) else rows
                return self._send(200, {"persons": seed_persons(sim.store, rows)})
            if path.startswith("/_sim/persons/") and method == "DELETE":
                deleted = sim.store.person_delete(path.rsplit("/", 1)[1])
                return self._send(200 if deleted else 404, {"deleted": deleted})
            if path == "/_sim/faults" and method == "GET":
                return self._send(200, {"faults": sim.faults.listing()})
            if path == "/_sim/faults" and method == "POST":
                rows = data.get("faults", data) if isinstance(data, dict) else data
                rows = [rows] if isinstance(rows, dict) else rows
                for row in rows:
                    sim.faults.add(parse_fault(row))
                return self._send(200, {"faults": sim.faults.listing()})
            if path == "/_sim/faults" and method == "DELETE":
                sim.faults.clear()
                return self._send(200, {"faults": []})
            if path == "/_sim/requests" and method == "GET":
                since = int((params.get("since") or ["0"])[0])
                return self._send(200, {"requests": sim.store.requests(since)})
            if path == "/_sim/requests" and method == "DELETE":
                sim.store.clear_requests()
                return self._send(200, {"requests": []})
            if path == "/_sim/credits" and method == "GET":
                person_id = (params.get("person_id") or [None])[0]
                year = (params.get("year") or [None])[0]
                return self._send(
                    200, {"items": sim.store.credits(person_id=person_id, year=int(year) if year else None)}
                )
            if path == "/_sim/reset" and method == "POST":
                sim.faults.clear()
                sim.store.reset(keep_persons=bool(data.get("keep_persons", False)))
                return self._send(200, {"ok": True})
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return self._send(400, {"code": "invalid_field", "message": str(exc)})
        return self._send(404, {"code": "not_found", "message": "no such admin endpoint"})


def seed_persons(store: Store, rows) -> list[dict]:
    if not isinstance(rows, list):
        raise ValueError("persons must be a list of objects")
    out = []
    for row in rows:
        if (
            not isinstance(row, dict)
            or not ID_NUMBER.match(str(row.get("id_number", "")).upper())
            or not str(row.get("name", "")).strip()
        ):
            raise ValueError(f"a person needs a valid id_number and a name: {row!r}")
        out.append(
            store.person_upsert(
                id_number=row["id_number"],
                name=row["name"],
                person_id=row.get("person_id", ""),
                region_code=row.get("region_code", ""),
                status=row.get("status", "active"),
            )
        )
    return out


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, config: SimConfig, store: Store):
        self.config, self.store, self.faults = config, store, FaultBook()
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def make_server(
    host: str = "127.0.0.1", port: int = 8900, *, config: SimConfig | None = None, store: Store | None = None
) -> SimServer:
    return SimServer((host, port), config or SimConfig(), store or Store())


def serve_in_thread(host: str = "127.0.0.1", port: int = 0, **kwargs) -> tuple[SimServer, threading.Thread]:
    """Start a simulator in a daemon thread (port 0: a free port, see server.server_address).
    Stop it with server.shutdown(); server.server_close()."""
    server = make_server(host, port, **kwargs)
    thread = threading.Thread(target=server.serve_forever, name="ais-sim", daemon=True)
    thread.start()
    return server, thread
