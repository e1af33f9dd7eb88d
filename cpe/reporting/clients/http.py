"""The AIS adapter: docs/ais-interface.md over HTTP(S) with `requests`.

Every request is signed (X-AIS-Provider, X-AIS-Timestamp, X-AIS-Nonce, X-AIS-Signature =
base64 HMAC-SHA256(secret, METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex(SHA-256(body)))), where PATH is
the request target as sent: the path plus "?query" when there is one. Each attempt gets a fresh
timestamp, nonce and signature; the body bytes are the same on every attempt.

Retries (inside one call): connection errors, timeouts, 429 and 5xx, at most `max_retries`
times, waiting `Retry-After` when the AIS gives one (giving up at once, with
AisUnavailable.retry_after set, if it asks for more than `retry_after_max`), otherwise an
exponential backoff with equal jitter: base·2^(n-1) capped at `backoff_cap`, then a random
point in its upper half. 400/401/404/409 (and any other 4xx) are never retried. Repeating a call
is safe: lookups only read; reports and reversals carry an idempotency key, so a resend after a
timeout gets the first receipt back.

Every attempt is recorded (cpe.reporting.models.AisExchange) with the ID number and name
masked: personal data is not stored in clear (rules R14).

Settings (read when the client is made, so tests can change them):
    AIS_BASE_URL        default http://127.0.0.1:8900 (the simulator)
    AIS_PROVIDER_CODE   default CPE-DEMO (the simulator's demo code)
    AIS_SECRET          default the simulator's demo secret
    AIS_TIMEOUT         seconds: a number (read) or (connect, read); default (3.05, 10)
    AIS_MAX_RETRIES     default 4 (so at most 5 attempts)
    AIS_BACKOFF_BASE    default 0.5 s;  AIS_BACKOFF_CAP default 30 s
    AIS_RETRY_AFTER_MAX default 120 s
"""

import base64
import email.utils
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

import requests
from django.conf import settings

from cpe.core.masking import mask_id_number, mask_name

from .base import (
    AisAuthFailed,
    AisClient,
    AisConflict,
    AisCredit,
    AisInvalid,
    AisNotFound,
    AisRejected,
    AisUnavailable,
    CreditReport,
    PersonLookup,
    ReportReceipt,
    ReversalReceipt,
)

log = logging.getLogger(__name__)

DEMO_PROVIDER_CODE = "CPE-DEMO"
DEMO_SECRET = "ais-sim-demo-secret-not-for-production"
REJECTIONS = {400: AisInvalid, 401: AisAuthFailed, 404: AisNotFound, 409: AisConflict}
MASKERS = {"id_number": mask_id_number, "name": mask_name}
_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


def sign(secret: str, method: str, target: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = "\n".join([method.upper(), target, timestamp, nonce, hashlib.sha256(body).hexdigest()])
    return base64.b64encode(
        hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    ).decode("ascii")


def mask_payload(value):
    """A copy of a JSON value with every "id_number" and "name" masked, at any depth."""
    if isinstance(value, dict):
        return {
            k: (MASKERS[k](v) if k in MASKERS and isinstance(v, str) else mask_payload(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_payload(v) for v in value]
    return value


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def _setting(name, default):
    return getattr(settings, name, default)


def _timeout(value):
    """A number (read timeout, also used to connect), "3.05,10", or a (connect, read) pair."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return float(value[0])
        return float(value[0]), float(value[1])
    return float(value)


class HttpAisClient(AisClient):
    def __init__(
        self,
        *,
        base_url=None,
        provider_code=None,
        secret=None,
        timeout=None,
        max_retries=None,
        backoff_base=None,
        backoff_cap=None,
        retry_after_max=None,
        sleep=time.sleep,
        rng=random.random,
        clock=time.time,
        recorder=None,
        session=None,
    ):
        self.base_url = (base_url or _setting("AIS_BASE_URL", "http://127.0.0.1:8900")).rstrip("/")
        self.provider_code = provider_code or _setting("AIS_PROVIDER_CODE", DEMO_PROVIDER_CODE)
        self.secret = secret or _setting("AIS_SECRET", DEMO_SECRET)
        self.timeout = _timeout(timeout if timeout is not None else _setting("AIS_TIMEOUT", (3.05, 10.0)))
        self.max_retries = int(max_retries if max_retries is not None else _setting("AIS_MAX_RETRIES", 4))
        self.backoff_base = float(
            backoff_base if backoff_base is not None else _setting("AIS_BACKOFF_BASE", 0.5)
        )
        self.backoff_cap = float(
            backoff_cap if backoff_cap is not None else _setting("AIS_BACKOFF_CAP", 30.0)
        )
        self.retry_after_max = float(
            retry_after_max if retry_after_max is not None else _setting("AIS_RETRY_AFTER_MAX", 120.0)
        )
        self.sleep, self.rng, self.clock = sleep, rng, clock
        self.recorder = recorder
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxy from the environment for the AIS

    # -- the four calls ---------------------------------------------------------------------------
    def lookup_person(self, *, id_number: str, name: str) -> PersonLookup:
        data = self._call(
            "POST", "/api/v1/persons/lookup", body={"id_number": id_number, "name": name}, purpose="lookup"
        )
        if not isinstance(data.get("found"), bool):
            raise AisUnavailable("lookup answer without a boolean 'found'", code="bad_answer")
        if not data["found"]:
            return PersonLookup(found=False)
        return PersonLookup(
            found=True,
            person_id=str(data.get("person_id", "")),
            region_code=str(data.get("region_code", "")),
            status=str(data.get("status", "")),
        )

    def report_credit(self, report: CreditReport) -> ReportReceipt:
        status, data = self._call(
            "POST",
            "/api/v1/credits",
            body=report.as_json(),
            purpose="report",
            key=report.idempotency_key,
            with_status=True,
        )
        if not data.get("receipt_no"):
            raise AisUnavailable("report answer without receipt_no", code="bad_answer")
        return ReportReceipt(receipt_no=str(data["receipt_no"]), created=status == 201)

    def send_report(self, body: str) -> ReportReceipt:
        parsed = json.loads(body)
        status, data = self._call(
            "POST",
            "/api/v1/credits",
            body=parsed,
            raw_body=body.encode("utf-8"),
            purpose="report",
            key=str(parsed.get("idempotency_key", "")),
            with_status=True,
        )
        if not data.get("receipt_no"):
            raise AisUnavailable("report answer without receipt_no", code="bad_answer")
        return ReportReceipt(receipt_no=str(data["receipt_no"]), created=status == 201)

    def reverse_credit(self, *, receipt_no: str, idempotency_key: str, reason: str) -> ReversalReceipt:
        data = self._call(
            "POST",
            f"/api/v1/credits/{quote(receipt_no, safe='')}/reversal",
            body={"idempotency_key": idempotency_key, "reason": reason},
            purpose="reversal",
            key=idempotency_key,
        )
        return ReversalReceipt(
            receipt_no=str(data.get("receipt_no", receipt_no)),
            reversal_no=str(data.get("reversal_no", "")),
            reversed_at=str(data.get("reversed_at", "")),
        )

    def list_credits(self, *, person_id: str, year: int) -> list[AisCredit]:
        data = self._call(
            "GET", "/api/v1/credits", query={"person_id": person_id, "year": int(year)}, purpose="list"
        )
        items = data.get("items")
        if not isinstance(items, list):
            raise AisUnavailable("list answer without items", code="bad_answer")
        return [
            AisCredit(
                receipt_no=str(i.get("receipt_no", "")),
                idempotency_key=str(i.get("idempotency_key", "")),
                person_id=str(i.get("person_id", person_id)),
                year=int(i.get("year", year)),
                course_code=str(i.get("course_code", "")),
                course_title=str(i.get("course_title", "")),
                category=str(i.get("category", "")),
                hours=i.get("hours", 0),
                credits=i.get("credits", 0),
                passed_at=str(i.get("passed_at", "")),
                status=str(i.get("status", "recorded")),
                raw=i,
            )
            for i in items
        ]

    # -- one call: attempts, waits, records -------------------------------------------------------
    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based): equal jitter."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + self.rng() * ceiling / 2

    def _call(
        self, method, path, *, body=None, query=None, purpose="", key="", with_status=False, raw_body=None
    ):
        target = path + ("?" + urlencode(query) if query else "")
        if raw_body is not None:  # the exact bytes stored in the outbox
            raw = raw_body
        else:
            raw = (
                b""
                if body is None
                else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            )
        masked_request = mask_payload(body) if body is not None else None
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            status, answer, error, retry_after = None, None, "", None
            timestamp = str(int(self.clock()))
            nonce = secrets.token_urlsafe(18)  # 24 characters
            headers = {
                "X-AIS-Provider": self.provider_code,
                "X-AIS-Timestamp": timestamp,
                "X-AIS-Nonce": nonce,
                "X-AIS-Signature": sign(self.secret, method, target, timestamp, nonce, raw),
                "Accept": "application/json",
            }
            if body is not None:
                headers["Content-Type"] = "application/json; charset=utf-8"
            started = time.monotonic()
            try:
                resp = self.session.request(
                    method,
                    self.base_url + target,
                    data=raw if body is not None else None,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
                status = resp.status_code
                try:
                    answer = resp.json()
                except ValueError:
                    answer = {"_text": resp.text[:2000]} if resp.text else None
                retry_after = parse_retry_after(resp.headers.get("Retry-After"), now=self.clock())
            except requests.Timeout as exc:
                error = f"timeout: {exc.__class__.__name__}"
            except _TRANSPORT_ERRORS as exc:
                error = f"connection: {exc.__class__.__name__}: {str(exc)[:300]}"
            except requests.RequestException as exc:  # a bad URL: no point retrying
                self._record(
                    method,
                    target,
                    purpose,
                    attempt,
                    None,
                    started,
                    masked_request,
                    None,
                    f"request: {exc}",
                    key,
                )
                raise AisUnavailable(f"AIS request could not be made: {exc}", code="bad_request") from exc
            self._record(
                method,
                target,
                purpose,
                attempt,
                status,
                started,
                masked_request,
                mask_payload(answer),
                error,
                key,
            )

            if status is not None and 200 <= status < 300:
                if not isinstance(answer, dict) or "_text" in answer:
                    error, status = "answer is not a JSON object", None  # retry a garbled answer
                else:
                    return (status, answer) if with_status else answer
            elif status is not None and status != 429 and 400 <= status < 500:
                cls = REJECTIONS.get(status, AisRejected)
                answer = answer if isinstance(answer, dict) else {}
                raise cls(
                    str(answer.get("message", "")) or f"AIS answered {status}",
                    status=status,
                    code=str(answer.get("code", "")),
                )

            what = error or f"AIS answered {status}"
            if attempt == attempts:
                raise AisUnavailable(
                    f"{what} (after {attempts} attempts)",
                    status=status,
                    code="exhausted",
                    retry_after=retry_after,
                )
            if retry_after is not None and retry_after > self.retry_after_max:
                raise AisUnavailable(
                    f"{what}; Retry-After {retry_after:.0f} s is too long to wait here",
                    status=status,
                    code="retry_later",
                    retry_after=retry_after,
                )
            self.sleep(retry_after if retry_after is not None else self.backoff(attempt))
        raise AssertionError("unreachable")

    def _record(
        self, method, target, purpose, attempt, status, started, request_body, answer_body, error, key
    ):
        duration_ms = int((time.monotonic() - started) * 1000)
        entry = dict(
            at=datetime.now(timezone.utc),
            method=method,
            path=target,
            purpose=purpose,
            attempt=attempt,
            status=status,
            duration_ms=duration_ms,
            request_body=request_body,
            answer_body=answer_body,
            error=error,
            idempotency_key=key,
        )
        recorder = self.recorder
        if recorder is None:
            # Lazy: reporting.services imports this client (get_client), so the client's default
            # recorder cannot be imported while this module loads.
            from cpe.reporting.services import ais_exchange_record as recorder
        try:
            recorder(**entry)
        except Exception:  # recording must never turn an answer into a failure
            log.exception("could not record an AIS exchange %s %s", method, target)
