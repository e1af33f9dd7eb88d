"""The AIS port (docs/ais-interface.md): four calls, plain dataclasses in and out.

Errors say what the caller may do next:
- `AisUnavailable`: the AIS could not be reached or kept answering 429/5xx after the
  adapter's own retries. Try again later: every call is safe to repeat (lookups read, reports
  and reversals carry an idempotency key).
- `AisRejected` and its subclasses (400, 401, 404, 409): the AIS refused the request. Repeating
  the same request will get the same answer; a person (or a fix) has to act.
"""

from dataclasses import dataclass, field
from datetime import datetime


class AisError(Exception):
    status: int | None = None
    retryable = False

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        code: str = "",
        retry_after: float | None = None,
    ):
        super().__init__(message or code or self.__class__.__name__)
        self.message = message
        self.code = code
        if status is not None:
            self.status = status
        self.retry_after = retry_after


class AisUnavailable(AisError):
    """Connection error, timeout, 429 or 5xx, after the retries: try again later."""

    retryable = True


class AisRejected(AisError):
    """A 4xx answer: never retried."""


class AisInvalid(AisRejected):
    status = 400


class AisAuthFailed(AisRejected):
    """401: wrong provider code or secret, clock off by more than 300 s, or a nonce reused."""

    status = 401


class AisNotFound(AisRejected):
    """404: unknown person or receipt."""

    status = 404


class AisConflict(AisRejected):
    """409: the idempotency key was already used with a different body."""

    status = 409


@dataclass(frozen=True)
class PersonLookup:
    found: bool
    person_id: str = ""
    region_code: str = ""
    status: str = ""  # the AIS's own status of the person (e.g. "active")


@dataclass(frozen=True)
class CreditReport:
    idempotency_key: str
    person_id: str
    id_number: str
    name: str
    year: int
    course_code: str
    course_title: str
    category: str  # "professional" | "public"
    hours: float
    credits: float
    passed_at: datetime  # aware

    def as_json(self) -> dict:
        return {
            "idempotency_key": self.idempotency_key,
            "person_id": self.person_id,
            "id_number": self.id_number,
            "name": self.name,
            "year": int(self.year),
            "course_code": self.course_code,
            "course_title": self.course_title,
            "category": self.category,
            "hours": _number(self.hours),
            "credits": _number(self.credits),
            "passed_at": self.passed_at.isoformat(timespec="seconds"),
        }


def report_body_text(body: dict) -> str:
    """The one serialisation of a report body: what is stored in the outbox and sent."""
    import json

    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _number(value):
    """Whole numbers as JSON integers (24, not 24.0): the body must be byte-stable across
    resends, or the AIS would see a "different body" (409)."""
    value = float(value)
    return int(value) if value.is_integer() else value


@dataclass(frozen=True)
class ReportReceipt:
    receipt_no: str
    created: bool  # False: the AIS already had this idempotency key (200, same receipt)


@dataclass(frozen=True)
class ReversalReceipt:
    receipt_no: str
    reversal_no: str = ""
    reversed_at: str = ""


@dataclass(frozen=True)
class AisCredit:
    receipt_no: str
    idempotency_key: str
    person_id: str
    year: int
    course_code: str
    course_title: str
    category: str
    hours: float
    credits: float
    passed_at: str
    status: str  # "recorded" | "reversed"
    raw: dict = field(default_factory=dict, compare=False)


class AisClient:
    """The port. Implementations: clients.http.HttpAisClient (the contract over HTTP)."""

    is_fake = False

    def lookup_person(self, *, id_number: str, name: str) -> PersonLookup:
        raise NotImplementedError

    def report_credit(self, report: CreditReport) -> ReportReceipt:
        """Idempotent by report.idempotency_key."""
        raise NotImplementedError

    def send_report(self, body: str) -> ReportReceipt:
        """Send a credit report whose JSON text was built earlier (CreditReport.as_json, then
        `report_body_text`), byte for byte: the outbox resends exactly what it sent first."""
        raise NotImplementedError

    def reverse_credit(self, *, receipt_no: str, idempotency_key: str, reason: str) -> ReversalReceipt:
        """Idempotent by idempotency_key."""
        raise NotImplementedError

    def list_credits(self, *, person_id: str, year: int) -> list[AisCredit]:
        raise NotImplementedError
