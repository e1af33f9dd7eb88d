"""Credit and certificate rules (rules R8.3-8.4, R10; agreement §4.4). Pure functions.

The year's requirement lives in per-year rows that staff edit (catalog.TrainingYear:
required_hours, credits_per_hour, professional_min_hours); the functions here take them as
plain numbers."""
import re
from dataclasses import dataclass

from cpe.core.masking import mask_name

ACTIVE = "active"
REVOKED = "revoked"
PROFESSIONAL = "professional"
PUBLIC = "public"

# Verification numbers: 16 characters of Crockford base32 (80 random bits) after a prefix
# naming the kind and the year, e.g. ZS<year>-7K3M-Q9XD-2HTB-W4NF. Unguessable: 2^80.
VERIFICATION_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
VERIFICATION_RANDOM_BYTES = 10
KIND_PREFIX = {"course": "HG", "year": "ZS"}   # 合格证明 / 学时证明
_NUMBER = re.compile(r"^(HG|ZS)\d{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$")

PUBLIC_QUERY_RATE = "20/h"          # per IP; rules R10 "captcha and rate limit"
PUBLIC_QUERY_RATE_BURST = "5/m"     # per IP
VERIFY_RATE = "120/h"               # per IP, the verification page (numbers are unguessable)
CAPTCHA_MAX_USES = 1                # a captcha answers one query


def credits_for(hours: int, credits_per_hour: int) -> int:
    """Credits of a course's hours under the year's conversion (TrainingYear.credits_per_hour)."""
    return hours * credits_per_hour


def record_on_pass(*, passed: bool, has_active_record: bool) -> bool:
    """A pass records the course's credit hours for the training year (记载学时), once per course
    per year however often it is passed (rules R7.6, R8.3; agreement §4.4). A revoked record (refund)
    does not count: passing again under a new purchase records again."""
    return passed and not has_active_record


@dataclass(frozen=True)
class YearStatus:
    required_hours: int
    professional_min_hours: int
    total_hours: int
    professional_hours: int
    public_hours: int
    credits: int
    complete: bool
    missing_hours: int            # still needed in all
    missing_professional: int     # of which professional
    percent: int                  # 0-100, of the total requirement

    @property
    def planner_line(self) -> str:
        return planner_line(self)


def year_status(*, required_hours: int, professional_min_hours: int, credits_per_hour: int,
                professional_hours: int, public_hours: int) -> YearStatus:
    """Annual completion (rules R8.4; 财会〔2018〕10号《会计专业技术人员继续教育规定》第十五条:
    at least 90 credits a year, professional subjects at least two thirds). The year is complete
    when the recorded hours reach its required hours AND the professional hours reach its
    professional minimum. Public hours beyond what the total needs never replace professional
    hours: what is still missing in all is at least what is missing of professional."""
    total = professional_hours + public_hours
    missing_prof = max(0, professional_min_hours - professional_hours)
    missing = max(required_hours - total, missing_prof, 0)
    complete = missing == 0
    percent = 100 if required_hours <= 0 else min(100, (100 * (required_hours - missing)) // required_hours)
    return YearStatus(required_hours, professional_min_hours, total, professional_hours, public_hours,
                      credits_for(total, credits_per_hour), complete, missing, missing_prof, percent)


def planner_line(s: YearStatus) -> str:
    """"还需 12 学时，其中专业科目 8 学时" (or that the year is complete)."""
    if s.complete:
        return f"本年度学时已达标（{s.total_hours}/{s.required_hours} 学时），可下载学时证明。"
    if s.missing_professional:
        return f"还需 {s.missing_hours} 学时，其中专业科目 {s.missing_professional} 学时"
    return f"还需 {s.missing_hours} 学时（专业科目已达标）"


def course_certificate_allowed(record_status: str) -> bool:
    """A pass certificate for each passed course whose credit record is active (rules R8.4)."""
    return record_status == ACTIVE


def year_certificate_allowed(status: YearStatus) -> bool:
    """A completion certificate (学时证明) once the year is complete (rules R8.4)."""
    return status.complete


def verification_number(kind: str, year: int, random_bytes: bytes) -> str:
    """ZS<year>-XXXX-XXXX-XXXX-XXXX from 10 random bytes the caller draws (secrets.token_bytes)."""
    if len(random_bytes) != VERIFICATION_RANDOM_BYTES:
        raise ValueError("need 10 random bytes")
    n = int.from_bytes(random_bytes, "big")
    chars = []
    for _ in range(16):
        n, r = divmod(n, 32)
        chars.append(VERIFICATION_ALPHABET[r])
    body = "".join(reversed(chars))
    return f"{KIND_PREFIX[kind]}{year:04d}-" + "-".join(body[i:i + 4] for i in range(0, 16, 4))


def normalise_number(raw: str) -> str:
    """What a person types: case, spaces and Crockford look-alikes (O→0, I/L→1) forgiven."""
    s = (raw or "").strip().upper().replace(" ", "")
    head, _, tail = s.partition("-")
    tail = tail.replace("O", "0").replace("I", "1").replace("L", "1")
    return f"{head}-{tail}" if tail else head


def is_verification_number(value: str) -> bool:
    return bool(_NUMBER.match(value or ""))


# --- public query (rules R10) ------------------------------------------------------------------
def public_query_visible(*, found: bool, name_matches: bool, account_status: str) -> bool:
    """A person is shown only when the ID number AND the name match an account that is active:
    locked (closed) and terminated accounts are never found (rules R10, R11.3). The caller gives
    one answer for every refusal, so a mismatch cannot be told from an unknown person."""
    return found and name_matches and account_status == "active"


def captcha_question(a: int, b: int, op: str) -> tuple[str, int]:
    """A small arithmetic captcha from numbers the caller draws: ("7 + 5 = ?", 12)."""
    if op == "+":
        return f"{a} + {b} = ?", a + b
    hi, lo = max(a, b), min(a, b)
    return f"{hi} - {lo} = ?", hi - lo


def captcha_ok(expected, given: str) -> bool:
    try:
        return expected is not None and int(str(given).strip()) == int(expected)
    except (TypeError, ValueError):
        return False


def holder_after_closing(holder_name: str) -> str:
    """The name a certificate keeps when its holder closes a paid account (lock and archive,
    rules R11.3): the masked name (张*, 欧阳**) that the public verification page showed before,
    never the full name. An employer holding the printed certificate still sees the name match,
    so a genuine certificate does not look forged, and the live row holds nothing more than what
    anyone with the number could already read. The full name is only in the sealed archive.
    Idempotent: masking a masked name gives it back."""
    return mask_name(holder_name)
